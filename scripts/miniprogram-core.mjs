// The mini-program's copy of the client core: static/js/hub-core.js (a plain
// ES module, served as is to the web pages) rewritten as CommonJS, which is
// what a WeChat mini-program `require`s without a build step. The copy is
// checked in; tests/js/core-copy.test.js fails when it is not what this
// script makes from the current core. Usage: node scripts/miniprogram-core.mjs [--check]
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
export const SOURCE = join(root, 'static/js/hub-core.js');
export const COPY = join(root, 'miniprogram/lib/hub-core.js');

export function commonjs(source) {
  const names = [];
  const body = source.replace(/^export (const|function|class) ([A-Za-z_$][\w$]*)/gm, (_, kind, name) => {
    names.push(name);
    return `${kind} ${name}`;
  });
  if (/^\s*(export|import)\b/m.test(body)) throw new Error('hub-core.js: only `export const|function|class` is supported');
  return [
    '// GENERATED from static/js/hub-core.js by scripts/miniprogram-core.mjs — do not edit;',
    '// edit the core and run `node scripts/miniprogram-core.mjs`.',
    "'use strict';",
    '',
    body.trimEnd(),
    '',
    `module.exports = { ${names.join(', ')} };`,
    '',
  ].join('\n');
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const made = commonjs(readFileSync(SOURCE, 'utf8'));
  if (process.argv.includes('--check')) {
    if (readFileSync(COPY, 'utf8') !== made) {
      console.error(`${COPY} is out of date: run node scripts/miniprogram-core.mjs`);
      process.exit(1);
    }
  } else {
    writeFileSync(COPY, made);
  }
}
