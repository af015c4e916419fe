#!/usr/bin/env node
// Shopify Theme Check on a theme app extension, with the config Shopify CLI uses for them
// (`shopify app build`/`deploy` call themeCheckRun(dir, 'theme-check:theme-app-extension')).
// Prints every offense; exits 1 on any error-severity offense, 2 if it could not check.
// Usage: node scripts/theme-check/check.js [extension dir]   (default: extensions/notify-me)
'use strict';

const path = require('node:path');
const { themeCheckRun, Severity } = require('@shopify/theme-check-node');

const CONFIG = 'theme-check:theme-app-extension';
const root = path.resolve(process.argv[2] || path.join(__dirname, '..', '..', 'extensions', 'notify-me'));
const names = { [Severity.ERROR]: 'error', [Severity.WARNING]: 'warning', [Severity.INFO]: 'info' };

async function main() {
  const started = Date.now();
  const debug = process.env.THEME_CHECK_DEBUG ? (m) => console.error(m) : undefined;
  const { theme, offenses } = await themeCheckRun(root, CONFIG, debug);
  if (theme.length === 0) {
    console.error(`theme-check: no Liquid or JSON files under ${root}`);
    return 2;
  }
  const rel = (uri) => path.relative(process.cwd(), decodeURIComponent(new URL(uri).pathname));
  offenses.sort((a, b) => a.severity - b.severity || a.uri.localeCompare(b.uri) || a.start.index - b.start.index);
  for (const o of offenses) {
    // Theme Check positions are zero-based.
    console.log(`${rel(o.uri)}:${o.start.line + 1}:${o.start.character + 1}: ${names[o.severity]} ${o.check}: ${o.message}`);
  }
  const count = (s) => offenses.filter((o) => o.severity === s).length;
  const errors = count(Severity.ERROR);
  console.log(
    `theme-check (${CONFIG}): ${theme.length} files, ${errors} errors, ${count(Severity.WARNING)} warnings, ` +
      `${count(Severity.INFO)} info in ${((Date.now() - started) / 1000).toFixed(1)}s`,
  );
  return errors > 0 ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (err) => {
    console.error('theme-check failed:', err && err.stack ? err.stack : err);
    process.exit(2);
  },
);
