# shellcheck shell=bash
# Sourced by the checkout's launchers (./layerctl.sh, ./layerd): builds a module's jar with Maven
# on first use and whenever its build inputs changed since the last build, and otherwise costs one
# short `find`: over the poms and the modules' src/main trees only (not target/, tests, testdata
# or .git), stopping at the first entry newer than the stamp. Directories count too, so a source
# file removed or renamed is a change. The stamp is taken before the build starts, so that a
# source saved while Maven runs makes the next start build again.

# layerd_changed_since ROOT STAMP: prints the first build input under ROOT newer than STAMP (none:
# nothing changed).
layerd_changed_since() {
  local root=$1 stamp=$2
  find "$root/pom.xml" "$root"/*/pom.xml "$root"/*/*/pom.xml "$root"/*/src/main \
    "$root"/*/*/src/main -newer "$stamp" -print -quit 2>/dev/null || true
}

# layerd_build_if_stale ROOT TOOL MODULE JAR: builds MODULE (and the modules it needs) when JAR,
# its stamp (JAR's directory/.built) or an up-to-date stamp is missing; TOOL names the launcher in
# messages. Returns non-zero, with the end of Maven's output, when the build fails.
layerd_build_if_stale() {
  local root=$1 tool=$2 module=$3 jar=$4
  local stamp log
  stamp="$(dirname "$jar")/.built"
  if [ -f "$jar" ] && [ -f "$stamp" ] && [ -z "$(layerd_changed_since "$root" "$stamp")" ]; then
    return 0
  fi
  echo "$tool: building (first use or changed sources)..." >&2
  mkdir -p "$(dirname "$jar")"
  touch "$stamp.next"
  log=$(mktemp)
  if ! (cd "$root" && mvn -B -q -pl "$module" -am package -DskipTests -Dspotless.check.skip=true) >"$log" 2>&1; then
    tail -n 40 "$log" >&2
    rm -f "$log" "$stamp.next"
    echo "$tool: the build failed; run 'mvn -B -pl $module -am package' in $root to see why" >&2
    return 1
  fi
  rm -f "$log"
  mv -f "$stamp.next" "$stamp"
}
