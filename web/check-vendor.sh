#!/bin/sh
# check-vendor.sh fails when web/static/vendor is not exactly what
# vendor.sh makes from a clean install of package-lock.json (CI runs it).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cp "$here/package.json" "$here/package-lock.json" "$here/vendor.sh" "$tmp/"
(cd "$tmp" && npm ci --ignore-scripts --no-audit --no-fund >/dev/null)
sh "$tmp/vendor.sh" "$tmp/node_modules" "$tmp/vendor"
if ! diff -r "$tmp/vendor" "$here/static/vendor"; then
	echo "check-vendor: web/static/vendor differs from package-lock.json; run: cd web && npm ci --ignore-scripts && ./vendor.sh" >&2
	exit 1
fi
echo "check-vendor: web/static/vendor matches package-lock.json"
