#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# setup.sh DEST - install the browser test's driver (npm package
# playwright-core, pinned by tests/browser/package-lock.json; it drives
# Debian's chromium and downloads no browser of its own) into
# DEST/node_modules with `npm ci`. Run by CTest as the
# browser_npm_install fixture before browser_page (tests/browser.cmake).
# Does nothing when DEST already has the same lock installed.
# Exit 77 (skip) when node, npm or chromium is missing - except in CI
# (CI=true), where that must fail, not skip.
set -eu
src=$(cd "$(dirname "$0")" && pwd)
dest=$1
chromium=${IMGSTREAM_CHROMIUM:-/usr/bin/chromium}
missing=
for tool in node npm; do
  command -v "$tool" >/dev/null 2>&1 || missing="$missing $tool"
done
[ -x "$chromium" ] || missing="$missing chromium"
if [ -n "$missing" ]; then
  if [ "${CI:-}" = true ]; then
    echo "browser test:$missing missing, and CI=true: failing" \
         "(scripts/install-deps installs them)" >&2
    exit 1
  fi
  echo "SKIP: not installed:$missing (scripts/install-deps installs them)"
  exit 77
fi
mkdir -p "$dest"
if cmp -s "$src/package-lock.json" "$dest/package-lock.json" &&
   [ -f "$dest/node_modules/playwright-core/package.json" ]; then
  echo "playwright-core already installed in $dest"
  exit 0
fi
cp "$src/package.json" "$src/package-lock.json" "$dest/"
cd "$dest"
npm ci --ignore-scripts --no-audit --no-fund
