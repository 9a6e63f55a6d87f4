#!/usr/bin/env bash
# layerctl: builds itself on first use (and after the sources change), then runs.
# (Named layerctl.sh because the layerctl/ module directory holds the plain name.)
set -euo pipefail
here=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")" && pwd)
jar="$here/layerctl/target/layerctl.jar"
stamp="$here/layerctl/target/.built"
if [ ! -f "$jar" ] || [ ! -f "$stamp" ] || \
   [ -n "$(find "$here" -path '*/target' -prune -o \( -name '*.java' -o -name 'pom.xml' \) -newer "$stamp" -print -quit 2>/dev/null)" ]; then
  echo "layerctl: building (first use or changed sources)..." >&2
  log=$(mktemp)
  if ! (cd "$here" && mvn -B -q -pl layerctl -am package -DskipTests -Dspotless.check.skip=true) >"$log" 2>&1; then
    tail -n 40 "$log" >&2; rm -f "$log"
    echo "layerctl: the build failed; run 'mvn -B -pl layerctl -am package' in $here to see why" >&2
    exit 1
  fi
  rm -f "$log"
  touch "$stamp"
fi
# Names are bytes: run the JVM with a UTF-8 locale so that none is mangled.
case "${LC_ALL:-${LC_CTYPE:-${LANG:-}}}" in *UTF-8*|*utf8*) ;; *) export LC_ALL=C.UTF-8 ;; esac
exec "${JAVA:-java}" -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Xshare:auto \
  -Dfile.encoding=UTF-8 -Dsun.jnu.encoding=UTF-8 -jar "$jar" "$@"
