#!/usr/bin/env bash
# benchmarks/fuzz.sh: long fuzzing runs of the Jazzer fuzz tests (CI fuzzes each for 10 s).
#
#   benchmarks/fuzz.sh [-t DURATION] [TEST...]
#
#   -t DURATION  how long each test fuzzes, in Jazzer's form (default 10m; e.g. 90s, 1h)
#   TEST         fuzz test classes (default: all of them): TarReaderFuzzTest CompressionFuzzTest
#                ApplierFuzzTest ImageReaderFuzzTest RequestFuzzTest
#
# Each test fuzzes in a JVM of its own (surefire's "fuzz" execution), first over its seeds and the
# inputs kept beside it (src/test/resources/.../<Class>Inputs/<method>/), then on what libFuzzer
# generates, kept in <module>/.cifuzz-corpus/ between runs (not committed). A crash fails the run;
# Jazzer writes the input to the Inputs directory named in the failure (or to the module's root):
# move it to <Class>Inputs/<method>/ with a name that says what it is, fix the code, and it stays
# a regression input of every build. Prints, per test, the executions and the seconds.
set -euo pipefail
repo=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)
duration=10m
while getopts "t:" o; do
  case $o in
    t) duration=$OPTARG ;;
    *) sed -n '2,16p' "$0"; exit 2 ;;
  esac
done
shift $((OPTIND - 1))
tests=("$@")
[ ${#tests[@]} -gt 0 ] || tests=(TarReaderFuzzTest CompressionFuzzTest ApplierFuzzTest ImageReaderFuzzTest RequestFuzzTest)

cd "$repo"
log=$(mktemp /tmp/layerd-fuzz-XXXXXX.log)
status=0
for t in "${tests[@]}"; do
  module=unpack
  [ "$t" = RequestFuzzTest ] && module=daemon
  echo "== $t ($module), fuzzing for $duration; log: $log"
  if ! mvn -B -pl "$module" -am verify -Dtest="$t" -Dsurefire.failIfNoSpecifiedTests=false \
      -Dlayerd.fuzz.duration="$duration" >"$log.$t" 2>&1; then
    status=1
    grep -aE "FuzzTestFinding|Tests run:.*FAIL|crash-|Test unit written" "$log.$t" | head -20 || true
  fi
  runs=$(grep -aoE "Done [0-9]+ runs in [0-9]+ second" "$log.$t" | tail -1 || true)
  corpus=$(ls "$module/.cifuzz-corpus/"*"$t"/* 2>/dev/null | wc -l)
  echo "   ${runs:-no fuzzing pass ran}; corpus kept: $corpus inputs"
  cat "$log.$t" >>"$log"
done
exit $status
