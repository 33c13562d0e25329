#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# setup.sh DEST - install the S3-protocol test server (npm package s3rver,
# pinned by tests/s3/package-lock.json) into DEST/node_modules with
# `npm ci`. Run by CTest as the s3_server_install fixture before the s3_*
# tests. Does nothing when DEST already has the same lock installed.
# Exit 77 (skip) when node or npm is missing - except in CI (CI=true),
# where a missing server must fail, not skip.
set -eu
src=$(cd "$(dirname "$0")" && pwd)
dest=$1
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1
then
  if [ "${CI:-}" = true ]; then
    echo "s3 tests: node and npm are missing, and CI=true: failing" \
         "(scripts/install-deps installs them)" >&2
    exit 1
  fi
  echo "SKIP: node and npm are not installed (scripts/install-deps" \
       "installs them)"
  exit 77
fi
mkdir -p "$dest"
if cmp -s "$src/package-lock.json" "$dest/package-lock.json" &&
   [ -f "$dest/node_modules/s3rver/bin/s3rver.js" ]; then
  echo "s3rver already installed in $dest"
  exit 0
fi
cp "$src/package.json" "$src/package-lock.json" "$dest/"
cd "$dest"
npm ci --ignore-scripts --no-audit --no-fund
