#!/usr/bin/env bash
# One-time setup on a fresh machine: system packages the local sandbox needs,
# then the npm workspaces and a build. Safe to run again. What only the tests
# need (Chromium) is not installed here: `npm test` gets it (scripts/test-deps.sh).
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v bwrap >/dev/null 2>&1 || need+=(bubblewrap)
# libseccomp compiles the local sandboxes' system-call filter.
ldconfig -p 2>/dev/null | grep -q 'libseccomp\.so\.2' || need+=(libseccomp2)
# OpenCode's skill, glob and grep tools run ripgrep from the PATH (Claude Code embeds its own); sandboxes see /usr/bin.
command -v rg >/dev/null 2>&1 || need+=(ripgrep)
if [ "${#need[@]}" -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "setup: installing ${need[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
  else
    echo "setup: please install: ${need[*]} (e.g. 'sudo apt-get install ${need[*]}')" >&2
    exit 1
  fi
fi

# As root, sandboxes run as unprivileged users, which must be able to pass through the folders above this one
# (the runner lives in its node_modules, the data folder is below it). Grant that where missing: search
# permission only (o+x: no listing, and nothing is mounted into sandboxes but what the runtime chooses).
if [ "$(id -u)" = 0 ]; then
  dir=$(pwd -P)
  while [ "$dir" != / ]; do
    if [ "$(( $(stat -c '%a' "$dir" | sed 's/^.*\(.\)$/\1/') & 1 ))" = 0 ]; then
      echo "setup: letting sandbox users pass through $dir (chmod o+x; undo with chmod o-x)"
      chmod o+x "$dir"
    fi
    dir=$(dirname "$dir")
  done
fi

# `npm install` honours package-lock.json. (`npm ci` rejects this lock because it
# leaves out other platforms' optional binaries, e.g. biome's.)
npm install --no-audit --no-fund
npm run build
