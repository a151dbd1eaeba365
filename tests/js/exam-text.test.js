// The exam page's catalogue lookups (static/js/exam-text.js, issue #14):
// placeholders filled, a missing value left visible, every key of the page
// present in the zh-CN catalogue.
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');

const STATIC = path.join(__dirname, '../../static');
const load = () => import(path.join(STATIC, 'js/exam-text.js'));

test('placeholders are filled from the values given', async () => {
  const { tx } = await load();
  assert.equal(tx('exam.violations', { count: 2, max: 5 }), '已切屏 2 次（共 5 次）');
  assert.equal(tx('exam.warning.text', { message: '请坐正' }), '监考员提醒：请坐正');
  assert.equal(tx('exam.progress', { done: 0 }), '已答 0 / {total} 题');  // a forgotten value shows
});

test('every exam key the page modules use is in the catalogue', async () => {
  const { zh } = await import(path.join(STATIC, 'js/i18n.js'));
  const files = ['exam.js', 'exam-devices.js', 'exam-end.js', 'exam-warnings.js', 'screen.js',
    'identity-check.js', 'contact.js', 'exam-page.js'];
  const used = new Set();
  for (const file of files) {
    const source = fs.readFileSync(path.join(STATIC, 'js', file), 'utf8');
    for (const m of source.matchAll(/tx\('(exam\.[\w.]+)'/g)) used.add(m[1]);
  }
  const html = fs.readFileSync(path.join(STATIC, 'exam.html'), 'utf8');
  for (const m of html.matchAll(/data-i18n="([\w.]+)"/g)) used.add(m[1]);
  assert.ok(used.size > 50, `${used.size} keys`);
  assert.deepEqual([...used].filter((k) => !(k in zh)), []);
});
