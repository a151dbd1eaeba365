// The catalogue's lookups (static/js/i18n.js, issue #14): t() fills named
// places; applyI18n() fills keyed text and attributes of a page, in jsdom.
const test = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');
const { JSDOM } = require('jsdom');

const load = () => import(path.join(__dirname, '../../static/js/i18n.js'));

test('t() gives the text of a key with its named places filled', async () => {
  const { t, zh } = await load();
  assert.equal(t('login.submit'), '登录');
  assert.equal(t('results.points', { n: 72.5 }), '72.5 分');
  // a place without a value stays visible rather than vanishing
  assert.equal(t('results.points', {}), zh['results.points']);
  // an unknown key shows itself, so a missing entry is seen, never blank
  assert.equal(t('no.such.key'), 'no.such.key');
});

test('applyI18n() fills text and attributes named by data-i18n', async () => {
  const { applyI18n } = await load();
  const { document } = new JSDOM(`<title data-i18n="app.title"></title>
    <button data-i18n="login.submit"></button>
    <input data-i18n-placeholder="login.username" data-i18n-aria-label="login.password">`).window;
  applyI18n(document);
  assert.equal(document.title, '安全生产管理人员考试系统');
  assert.equal(document.querySelector('button').textContent, '登录');
  const input = document.querySelector('input');
  assert.equal(input.getAttribute('placeholder'), '用户名');
  assert.equal(input.getAttribute('aria-label'), '密码');
});
