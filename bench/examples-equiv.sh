#!/bin/bash
# Every examples/**/*.vm through `vmlab run` and `vmlab run --trace --json` in two trees (each with
# node_modules), outputs and exit codes compared byte for byte. Usage (the base tree from
# `git archive main | tar -x -C /tmp/base`, node_modules symlinked):
#   bench/examples-equiv.sh /tmp/base .
# Prints the differences (none: "identical") and exits non-zero when there are any.
set -u
out=$(mktemp -d)
for side in a b; do
  tree=$([ $side = a ] && echo "$1" || echo "$2")
  mkdir -p "$out/$side"
  (
    cd "$tree" || exit 2
    node bin/vmlab.mjs --help >/dev/null 2>&1 # the CLI's bundle, made once
    find examples -name "*.vm" | sort | while read -r f; do
      k=$(echo "$f" | tr / _)
      node bin/vmlab.mjs run "$f" >"$out/$side/$k.run" 2>&1
      echo "exit $?" >>"$out/$side/$k.run"
      node bin/vmlab.mjs run --trace --json "$f" >"$out/$side/$k.json" 2>&1
      echo "exit $?" >>"$out/$side/$k.json"
    done
  )
done
n=$(find "$out/a" -name "*.run" | wc -l)
if diff -r "$out/a" "$out/b"; then
  echo "identical: $n examples, run and --trace --json"
  rm -rf "$out"
else
  echo "differences above ($n examples; outputs kept in $out)"
  exit 1
fi
