#!/usr/bin/env bash
# benchmarks/crash.sh: long runs of the crash harnesses (CI runs 6 trials for layerd and 8 for
# layerctl unpack).
#
#   benchmarks/crash.sh [-n TRIALS] [-s SEED]
#
# layerd (graph-driver and snapshotter APIs, overlay2 as root) and `layerctl unpack` are SIGKILLed
# at seeded random points TRIALS times each, restarted and checked (see CrashHarnessTest and
# UnpackCrashHarnessTest). Reproduce a failure with the seed it printed: -s SEED.
set -euo pipefail
repo=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)
trials=100
seed=()
while getopts "n:s:" o; do
  case $o in
    n) trials=$OPTARG ;;
    s) seed=(-Dlayerd.crash.seed="$OPTARG") ;;
    *) sed -n '2,9p' "$0"; exit 2 ;;
  esac
done
cd "$repo"
mvn -B -pl daemon,layerctl -am verify -Dtest='CrashHarnessTest,UnpackCrashHarnessTest' \
  -Dsurefire.failIfNoSpecifiedTests=false -Dlayerd.fuzz.skip=true \
  -Dlayerd.crash.trials="$trials" "${seed[@]}" 2>&1 | grep -aE "crash harness|Tests run:|FAIL|seed"
