#!/usr/bin/env bash
# breakouts.sh: runs every breakout case of layerd's table (unpack/src/test/java/io/layerd/unpack/
# BreakoutCases.java: containerd's TestBreakouts, moby go-archive's and umoci's scoping cases)
# against GNU tar, umoci and layerd, and prints them side by side.
#
#   unpack/compat/breakouts.sh [WORKDIR]
#
# A tool for humans, not part of the test run. Needs root (the cases make files as root, like the
# peers' own tests), GNU tar, Java 17 and Maven (offline is fine once the build has run), and umoci
# for its column (apt-get install umoci; the column reads "-" without it).
#
# How it works. io.layerd.unpack.compat.BreakoutCorpus (in unpack's test sources) writes, for each
# tool and case, WORKDIR/TOOL/NN-origin-Case/ with an empty host/sandbox/root/, a victim directory
# host/sandbox/victim/ and a lookalike host/sandbox/root-evil/ beside it, the case's lower.tar (state
# already on disk, when it has some) and layer.tar, and an OCI layout oci/ holding the same layers.
# Every absolute path in a case names the victim, so a tool that follows a link out of the root
# lands in the victim, not in the machine's /etc. Each tool then applies lower.tar and layer.tar to
# root/:
#   GNU tar  tar --numeric-owner -xpf lower.tar -C root, then the same for layer.tar
#   umoci    umoci raw unpack --image oci:case root   (both layers, from the layout)
#   layerd   layerctl.sh unpack lower.tar layer.tar root
#
# Each cell says:
#   confined  the tool applied the case, and nothing outside root/ changed
#   refused   the tool failed (an error), and nothing outside root/ changed
#   ESCAPED   something under host/ outside root/ changed (content, mode, owner, inode, link count,
#             mtime or ctime; a name created or removed), or a victim's secret is readable in root/
# The last column is what layerd's own test (BreakoutTest) requires of layerd: confined or refused.
# Tool output is kept in WORKDIR/TOOL/CASE/out.log.
set -uo pipefail

here=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")" && pwd)
repo=$(cd "$here/../.." && pwd)

if [ "$(id -u)" != 0 ]; then
  echo "breakouts.sh: run as root (the cases own files as root)" >&2
  exit 2
fi
command -v tar >/dev/null || { echo "breakouts.sh: needs GNU tar" >&2; exit 2; }
have_umoci=yes
command -v umoci >/dev/null || have_umoci=no

work=${1:-$(mktemp -d /tmp/layerd-breakouts.XXXXXX)}
mkdir -p "$work"
work=$(cd "$work" && pwd)
echo "breakouts.sh: working in $work" >&2

# ---------------------------------------------------------------- build and write the corpus
echo "breakouts.sh: building the corpus writer and layerctl..." >&2
(cd "$repo" && mvn -B -q -pl unpack -am test-compile dependency:build-classpath \
    -Dmdep.outputFile="$work/.classpath" -Dmdep.includeScope=test \
    -Dspotless.check.skip=true >"$work/.build.log" 2>&1) \
  || { echo "breakouts.sh: the build failed; see $work/.build.log" >&2; exit 1; }
# layerctl.sh builds itself when a source changed; a checkout shared with other builds may need
# another try.
for attempt in 1 2 3; do
  "$repo/layerctl.sh" --help >/dev/null 2>>"$work/.build.log" && break
  [ "$attempt" = 3 ] && { echo "breakouts.sh: layerctl does not build; see $work/.build.log" >&2; exit 1; }
  sleep 10
done
cp="$repo/unpack/target/test-classes:$repo/unpack/target/classes:$(cat "$work/.classpath")"
tools=(tar umoci layerd)
rm -rf "${tools[@]/#/$work/}"
java -cp "$cp" io.layerd.unpack.compat.BreakoutCorpus "$work" "${tools[@]}" >&2 \
  || { echo "breakouts.sh: could not write the corpus" >&2; exit 1; }

# ---------------------------------------------------------------- the tools
run_tar() {
  local d=$1 root=$1/host/sandbox/root
  if [ -f "$d/lower.tar" ]; then
    tar --numeric-owner -xpf "$d/lower.tar" -C "$root" || return
  fi
  tar --numeric-owner -xpf "$d/layer.tar" -C "$root"
}

run_umoci() {
  local d=$1
  umoci raw unpack --image "$d/oci:case" "$d/host/sandbox/root"
}

run_layerd() {
  local d=$1 layers=()
  [ -f "$d/lower.tar" ] && layers+=("$d/lower.tar")
  layers+=("$d/layer.tar")
  "$repo/layerctl.sh" unpack "${layers[@]}" "$d/host/sandbox/root"
}

# Everything under host/ except the root's contents: type, mode, owner, inode, link count, size,
# mtime, ctime, link target, and the digest of every regular file; then the root's own inode.
# With "reduced", the sandbox directory's own link count and times are left out: a tool that
# removes its (half-made) root when it fails changes them, and that is no escape.
snapshot() {
  local host=$1/host reduced=${2:-}
  (
    cd "$host" || exit 1
    find . -path ./sandbox/root -prune -o -printf '%p %y %m %U:%G %i %n %s %T@ %C@ %l\n' \
      | LC_ALL=C sort \
      | awk -v reduced="$reduced" '$1 == "./sandbox" && reduced != "" { print $1, $2, $3, $4, $5; next } { print }'
    find . -path ./sandbox/root -prune -o -type f -print0 | LC_ALL=C sort -z | xargs -0 -r sha256sum
    if [ -z "$reduced" ]; then
      if [ -d sandbox/root ] && [ ! -L sandbox/root ]; then
        stat -c 'root %i' sandbox/root
      else
        echo "root is gone or no longer a directory"
      fi
    fi
  )
}

root_id() {
  stat -c %i "$1/host/sandbox/root" 2>/dev/null
}

# confined, refused or ESCAPED, for one tool and one case.
cell() {
  local tool=$1 d=$2 before before_reduced after rc id
  before=$(snapshot "$d")
  before_reduced=$(snapshot "$d" reduced)
  id=$(root_id "$d")
  "run_$tool" "$d" >"$d/out.log" 2>&1
  rc=$?
  if [ -d "$d/host/sandbox/root" ] && [ "$(root_id "$d")" = "$id" ]; then
    after=$(snapshot "$d")
  else
    # The tool removed (or replaced) its root, as umoci does after an error: compare the rest.
    echo "note: the root was removed or replaced" >>"$d/out.log"
    before=$before_reduced
    after=$(snapshot "$d" reduced)
  fi
  if [ "$before" != "$after" ]; then
    diff <(echo "$before") <(echo "$after") >"$d/escape.diff"
    echo ESCAPED
  elif grep -rqs -D skip "host secret" "$d/host/sandbox/root"; then
    grep -rls -D skip "host secret" "$d/host/sandbox/root" >"$d/escape.diff"
    echo ESCAPED
  elif [ "$rc" -ne 0 ]; then
    echo refused
  else
    echo confined
  fi
}

# ---------------------------------------------------------------- the table
fmt='%-52s %-9s %-9s %-9s %s\n'
printf "$fmt" "case" "GNU tar" "umoci" "layerd" "layerd must be"
printf "$fmt" "----" "-------" "-----" "------" "--------------"
declare -A escaped=([tar]=0 [umoci]=0 [layerd]=0)
mismatch=0
while IFS=$'\t' read -r dir origin name expect; do
  declare -A c=()
  for tool in "${tools[@]}"; do
    if [ "$tool" = umoci ] && [ "$have_umoci" = no ]; then
      c[$tool]="-"
      continue
    fi
    c[$tool]=$(cell "$tool" "$work/$tool/$dir")
    [ "${c[$tool]}" = ESCAPED ] && escaped[$tool]=$((escaped[$tool] + 1))
  done
  want=confined
  [ "$expect" = INVALID ] && want=refused
  note=$want
  if [ "${c[layerd]}" != "$want" ]; then
    note="$want  <-- layerd differs"
    mismatch=$((mismatch + 1))
  fi
  printf "$fmt" "$origin $name" "${c[tar]}" "${c[umoci]}" "${c[layerd]}" "$note"
done <"$work/cases.tsv"

total=$(wc -l <"$work/cases.tsv")
echo
echo "$total cases. ESCAPED: GNU tar ${escaped[tar]}, umoci ${escaped[umoci]}, layerd ${escaped[layerd]}."
echo "layerd differs from its own expectation in $mismatch case(s). Logs and escape diffs: $work/TOOL/CASE/"
[ "${escaped[layerd]}" -eq 0 ] && [ "$mismatch" -eq 0 ]
