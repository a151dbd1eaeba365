// The mini-program's CommonJS copy of the client core is the web core, as
// scripts/miniprogram-core.mjs makes it (one client core, two shells).
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');

test('miniprogram/lib/hub-core.js is generated from static/js/hub-core.js', async () => {
  const { commonjs, SOURCE, COPY } = await import(path.join(__dirname, '../../scripts/miniprogram-core.mjs'));
  assert.equal(fs.readFileSync(COPY, 'utf8'), commonjs(fs.readFileSync(SOURCE, 'utf8')),
    'run: node scripts/miniprogram-core.mjs');
});
