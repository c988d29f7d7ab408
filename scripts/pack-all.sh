#!/usr/bin/env bash
# Packs the three packages into one folder (default: packs/ in the
# repository), as npm would publish them: multizone-distribution (its
# prepack compiles it with jsii and bundles its handlers), multizone-cli and
# multizone-flags (each compiled by its prepack). None of them is on the npm
# registry yet, so a user installs these tarballs, the construct's together
# with the CLI's (the CLI depends on that exact version of the construct):
#   npm install ./packs/multizone-distribution-0.1.0.tgz ./packs/multizone-cli-0.1.0.tgz
# `npm run pack:all [folder]`. Prints each tarball's path on stdout, one a
# line; npm's own output goes to stderr.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
out="$(mkdir -p "${1:-$root/packs}" && cd "${1:-$root/packs}" && pwd)"
cd "$root"
# Tarballs of an older version would sit beside the new ones and be installed by mistake.
rm -f "$out"/multizone-distribution-*.tgz "$out"/multizone-cli-*.tgz "$out"/multizone-flags-*.tgz
for workspace in multizone-distribution multizone-cli multizone-flags; do
  # The root package is a workspace too: -w names each alike.
  file="$(npm pack --silent --pack-destination "$out" -w "$workspace" | tail -n 1)"
  echo "pack-all: $workspace -> $out/$file" >&2
  echo "$out/$file"
done
