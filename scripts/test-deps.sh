#!/usr/bin/env bash
# What only the tests need, beyond `npm run setup`: Debian's Chromium, in which the Studio's browser tests run
# (playwright-core drives it; it cannot download browsers). `npm test` runs this first (`pretest`). Installed with
# apt when missing and root; otherwise this fails, naming the command that installs it. Safe to run again.
set -euo pipefail

if [ -x /usr/bin/chromium ]; then
  exit 0
fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "test-deps: installing chromium (the Studio's browser tests run in it)"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  exit 0
fi
echo "test-deps: the Studio's browser tests need Debian's Chromium at /usr/bin/chromium; install it first: sudo apt-get install chromium" >&2
exit 1
