#!/bin/sh
# vendor.sh copies the UI libraries the app uses from node_modules (as
# locked in package-lock.json) into static/vendor, where the Go binary
# embeds them: no build step, no CDN, no Node.js at run time.
#
#   cd web && npm ci --ignore-scripts && ./vendor.sh
#
# Files are copied byte for byte with their licences. One edit is made:
# preact's hooks module imports the bare name "preact", which a browser
# cannot resolve without an import map (an inline script the CSP forbids),
# so that one import is pointed at the file beside it. check-vendor.sh
# reruns this script on a clean install and compares.
#
# Usage: vendor.sh [node_modules dir] [output dir]
set -eu
here=$(cd "$(dirname "$0")" && pwd)
nm=${1:-$here/node_modules}
out=${2:-$here/static/vendor}

rm -rf "$out"
mkdir -p "$out"

cp "$nm/preact/dist/preact.mjs" "$out/preact.mjs"
cp "$nm/preact/LICENSE" "$out/preact.LICENSE"
cp "$nm/htm/dist/htm.mjs" "$out/htm.mjs"
cp "$nm/htm/LICENSE" "$out/htm.LICENSE"

hooks="$nm/preact/hooks/dist/hooks.mjs"
n=$(grep -o 'from"preact"' "$hooks" | wc -l)
if [ "$n" -ne 1 ]; then
	echo "vendor.sh: expected one import of \"preact\" in $hooks, found $n" >&2
	exit 1
fi
sed 's|from"preact"|from"./preact.mjs"|' "$hooks" >"$out/hooks.mjs"
if grep -q 'from"[^.]' "$out"/*.mjs; then
	echo "vendor.sh: a vendored module still imports a bare name" >&2
	exit 1
fi

{
	echo "Vendored by web/vendor.sh from the versions locked in web/package-lock.json. Do not edit."
	for p in preact htm; do
		v=$(sed -n 's/^  "version": "\(.*\)",$/\1/p' "$nm/$p/package.json")
		echo "$p $v"
	done
} >"$out/VERSIONS"
