# benchmarks/bench-common.sh: the small helpers the benchmark scripts share (sourced).
#
#   now                 seconds since the epoch, with nanoseconds
#   elapsed T0 T1       T1 - T0, to the millisecond
#   median X...         the median (the lower middle one of an even count)
#   ratio A B           A / B, to two places
#   stop PID            SIGTERM, up to 60 s to exit, then SIGKILL (nothing when PID is empty)
#   run_locked ARG...   runs the calling script again with ARGs under the end-to-end tests' lock
#                       (LAYERD_E2E_LOCK, default /tmp/layerd-e2e.lock), held by flock itself (-o:
#                       not by the daemons it starts); returns at once in the run it started

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
stop() {
  local p=$1
  [ -n "$p" ] || return 0
  kill -TERM "$p" 2>/dev/null || true
  for _ in $(seq 600); do kill -0 "$p" 2>/dev/null || return 0; sleep 0.1; done
  kill -KILL "$p" 2>/dev/null || true
}
run_locked() {
  [ -z "${LAYERD_BENCH_LOCKED:-}" ] || return 0
  local lock=${LAYERD_E2E_LOCK:-/tmp/layerd-e2e.lock}
  export LAYERD_BENCH_LOCKED=1
  flock -n "$lock" true || echo "waiting for $lock (end-to-end tests running)..." >&2
  exec flock -o "$lock" "$0" "$@"
}
