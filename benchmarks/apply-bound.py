#!/usr/bin/env python3
"""benchmarks/apply-bound.py: the in-process apply against the two-core bound, from the output of

    java -jar benchmarks/target/benchmarks.jar ApplyBench -p target=tmpfs ... \
        -jvmArgsAppend -Dlayerd.unpack.trace=true > apply.log 2>&1
    benchmarks/apply-bound.py apply.log

For each measured iteration (warm-up iterations are left out) it adds up the CPU seconds that
the pipeline's threads report with -Dlayerd.unpack.trace=true: the decoder, the digest thread, the
applying thread's own apply and the writers. The bound is the larger of the decoder's CPU and half
the sum (two cores); the ratio is the iteration's wall time over its bound. It prints, per format,
a Markdown row of medians. Not a timed test: it reads what the bench printed.
"""
import re
import statistics
import sys


def cpu(pattern, text):
    return sum(float(x) for x in re.findall(pattern, text))


def main(path):
    log = open(path, errors="replace").read()
    parts = re.split(r"# Parameters: \(format = (\w+), target = (\w+)\)", log)
    print("| format | target | apply | decode CPU | digests CPU | applying CPU | writers CPU"
          " | bound | apply / bound | iterations |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for i in range(1, len(parts), 3):
        fmt, target, body = parts[i], parts[i + 1], parts[i + 2]
        rows = []
        for it in re.split(r"\n(?=(?:# Warmup )?Iteration\s+\d+:)", body):
            head = re.match(r"(# Warmup )?Iteration\s+\d+:", it)
            score = re.search(r"([\d.]+) ms/op", it)
            if not head or head.group(1) or not score:
                continue
            decode = cpu(r"decoded \S+(?: \([^)]*\))?: ([\d.]+) s CPU", it)
            digests = cpu(r"digests done: ([\d.]+) s CPU", it)
            applying = cpu(r"applied \(CPU of the apply\): ([\d.]+) s CPU", it)
            writers = cpu(r"writer done: ([\d.]+) s CPU", it)
            if decode + digests + applying == 0:
                sys.exit("apply-bound.py: no trace lines: run the bench with"
                         " -jvmArgsAppend -Dlayerd.unpack.trace=true")
            wall = float(score.group(1)) / 1000
            bound = max(decode, (decode + digests + applying + writers) / 2)
            rows.append((wall, decode, digests, applying, writers, bound, wall / bound))
        if not rows:
            continue
        med = [statistics.median(r[k] for r in rows) for k in range(7)]
        print(f"| {fmt} | {target} | {med[0]:.3f} s | {med[1]:.3f} s | {med[2]:.3f} s"
              f" | {med[3]:.3f} s | {med[4]:.3f} s | {med[5]:.3f} s | **{med[6]:.2f}x** | {len(rows)} |")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: benchmarks/apply-bound.py APPLYBENCH-OUTPUT")
    main(sys.argv[1])
