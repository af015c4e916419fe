#!/usr/bin/env bash
# Makes sure Debian's Chromium is installed for the browser tests: installs
# the chromium package when it is missing and apt-get is usable (root).
# Without it the browser tests skip, except under CI or REQUIRE_BROWSER.
set -euo pipefail
if command -v chromium >/dev/null 2>&1 || [ -x /usr/bin/chromium ]; then
  exit 0
fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "ensure-chromium: installing Debian's chromium package for the browser tests" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq chromium >/dev/null
else
  echo "ensure-chromium: chromium is not installed; the browser tests will be skipped (install Debian's chromium to run them)" >&2
fi
