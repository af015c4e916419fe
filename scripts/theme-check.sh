#!/usr/bin/env bash
# Shopify Theme Check on the theme app extension (default extensions/notify-me), with the
# `theme-check:theme-app-extension` config that Shopify CLI applies on `shopify app build`/`deploy`.
# Runs @shopify/theme-check-node (pinned in scripts/theme-check/package-lock.json, installed with
# `npm ci` on first use or when the lock file changes). Prints every offense; exits 1 on any
# error-severity offense.
#
#   scripts/theme-check.sh [extension dir]
#
# Theme Check fetches the latest Liquid docs from raw.githubusercontent.com when it can and falls
# back to the copy bundled with the package; THEME_CHECK_DEBUG=1 shows which it used.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
tc="$root/scripts/theme-check"

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  echo "theme-check: needs Node.js 20+ and npm" >&2
  exit 2
fi

# npm ci records what it installed in node_modules/.package-lock.json.
if [ ! -f "$tc/node_modules/.package-lock.json" ] || [ "$tc/package-lock.json" -nt "$tc/node_modules/.package-lock.json" ]; then
  (cd "$tc" && npm ci --no-audit --no-fund --loglevel=error)
fi

exec node "$tc/check.js" "${1:-$root/extensions/notify-me}"
