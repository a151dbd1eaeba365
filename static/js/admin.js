// Administrator page (rules C1, C2, C4): classes and enrolment, question
// banks and their CSV/JSON import, papers built from a bank.
import { api, csrf } from './api.js';
import { byTestId, el, setError } from './dom.js';
import { signedIn } from './page-session.js';

const when = (iso) => (iso ? new Date(iso).toLocaleString('zh-CN', { timeZone: 'Asia/Shanghai', hour12: false }) : '');
let selectedClass = null;

function notify(message) {
  setError(byTestId('admin-error'), '');
  const box = byTestId('admin-message');
  box.textContent = message;
  box.hidden = !message;
}

function fail(err) {
  byTestId('admin-message').hidden = true;
  setError(byTestId('admin-error'), err.message);
}

function guard(fn) {
  return async (event) => {
    event?.preventDefault?.();
    try { await fn(event); } catch (err) { fail(err); }
  };
}

function options(select, items, label) {
  const keep = select.value;
  select.replaceChildren(...items.map((i) => el('option', { value: i.id }, label(i))));
  if (items.some((i) => String(i.id) === keep)) select.value = keep;
}

// ---------------------------------------------------------------- classes
async function loadClasses() {
  const { classes } = await api('GET', '/api/admin/classes');
  byTestId('class-list').querySelector('tbody').replaceChildren(...classes.map((c) => el('tr', { testid: 'class-row', 'data-class-id': c.id },
    el('td', {}, c.name), el('td', {}, String(c.member_count)), el('td', {}, String(c.paper_count)),
    el('td', {}, el('button', { type: 'button', class: 'secondary', testid: `class-open-${c.id}`, onclick: guard(() => openClass(c.id)) }, '管理考生')))));
  options(byTestId('paper-class'), classes, (c) => c.name);
}

async function openClass(classId) {
  selectedClass = classId;
  const detail = await api('GET', `/api/admin/classes/${classId}`);
  byTestId('class-detail').hidden = false;
  byTestId('class-detail-name').textContent = `班级：${detail.name}`;
  byTestId('member-list').querySelector('tbody').replaceChildren(...detail.members.map((m) => el('tr', { testid: 'member-row' },
    el('td', {}, m.username), el('td', {}, m.real_name),
    el('td', {}, el('button', { type: 'button', class: 'danger', onclick: guard(async () => {
      await api('DELETE', `/api/admin/classes/${classId}/members/${m.id}`);
      await openClass(classId); await loadClasses();
    }) }, '移出')))));
}

byTestId('class-form').addEventListener('submit', guard(async (event) => {
  const form = event.target;
  const created = await api('POST', '/api/admin/classes', { name: form.name.value });
  form.reset();
  notify(`已创建班级“${created.name}”`);
  await loadClasses();
  await openClass(created.id);
}));

byTestId('member-form').addEventListener('submit', guard(async (event) => {
  const form = event.target;
  const member = await api('POST', `/api/admin/classes/${selectedClass}/members`, { username: form.username.value });
  form.reset();
  notify(`已将 ${member.real_name}（${member.username}）加入班级`);
  await openClass(selectedClass);
  await loadClasses();
}));

// ---------------------------------------------------------------- banks and questions
async function loadBanks() {
  const { banks } = await api('GET', '/api/admin/banks');
  byTestId('bank-list').querySelector('tbody').replaceChildren(...banks.map((b) => el('tr', { testid: 'bank-row', 'data-bank-id': b.id },
    el('td', {}, b.name), el('td', {}, String(b.single)), el('td', {}, String(b.multiple)),
    el('td', {}, String(b.truefalse)), el('td', { testid: 'bank-total' }, String(b.total)),
    el('td', {}, el('button', { type: 'button', class: 'secondary', testid: `bank-open-${b.id}`, onclick: guard(() => openBank(b)) }, '查看题目')))));
  for (const id of ['import-bank', 'question-bank', 'paper-bank']) {
    options(byTestId(id), banks, (b) => (id === 'paper-bank' ? `题库“${b.name}”全部 ${b.total} 题` : b.name));
  }
}

const KIND_LABELS = { single: '单选题', multiple: '多选题', truefalse: '判断题' };
const LETTERS = 'ABCDEFGH';

function keyText(q) {
  if (q.kind === 'truefalse') return q.answer ? '正确' : '错误';
  return Array.isArray(q.answer) ? q.answer.join('') : q.answer;
}

async function openBank(bank) {
  const { questions } = await api('GET', `/api/admin/banks/${bank.id}/questions`);
  byTestId('bank-questions-box').hidden = false;
  byTestId('bank-questions-title').textContent = `题库“${bank.name}”的题目（${questions.length} 题）`;
  byTestId('bank-questions').querySelector('tbody').replaceChildren(...questions.map((q, i) => el('tr', { testid: 'bank-question-row' },
    el('td', {}, String(i + 1)), el('td', {}, KIND_LABELS[q.kind]),
    el('td', {}, q.stem, q.kind === 'truefalse' ? null
      : el('div', { class: 'meta' }, q.options.map((o, j) => `${LETTERS[j]}. ${o}`).join('　'))),
    el('td', {}, keyText(q)), el('td', {}, String(q.points)),
    el('td', {}, el('button', { type: 'button', class: 'danger', onclick: guard(async () => {
      await api('DELETE', `/api/admin/questions/${q.id}`);
      notify('题目已删除');
      await openBank(bank); await loadBanks();
    }) }, '删除')))));
}

byTestId('bank-form').addEventListener('submit', guard(async (event) => {
  const form = event.target;
  const created = await api('POST', '/api/admin/banks', { name: form.name.value });
  form.reset();
  notify(`已创建题库“${created.name}”`);
  await loadBanks();
}));

// the chosen file's name beside the Chinese button (the browser's own text is hidden)
function showChosenFile() {
  const file = byTestId('import-file').files[0];
  byTestId('import-file-name').textContent = file ? file.name : '未选择文件';
}
byTestId('import-file').addEventListener('change', showChosenFile);

byTestId('import-form').addEventListener('submit', guard(async (event) => {
  const form = event.target;
  const file = form.file.files[0];
  const box = byTestId('import-result');
  box.replaceChildren();
  try {
    const result = await fetchImport(form.bank.value, file);
    notify(`导入完成：新增 ${result.added} 题，已存在跳过 ${result.skipped} 题`);
    form.file.value = '';
    showChosenFile();
  } catch (err) {
    if (err.rows) {
      box.replaceChildren(el('table', { class: 'grid', testid: 'import-errors' },
        el('thead', {}, el('tr', {}, el('th', {}, '行'), el('th', {}, '字段'), el('th', {}, '错误'))),
        el('tbody', {}, err.rows.map((e) => el('tr', {}, el('td', {}, e.row ? String(e.row) : '文件'), el('td', {}, e.field), el('td', {}, e.message))))));
    }
    throw err;
  }
  await loadBanks();
}));

// The import sends the file itself as the body; its error answer lists every row.
async function fetchImport(bankId, file) {
  const res = await fetch(`/api/admin/banks/${bankId}/import`, {
    method: 'POST', body: file, credentials: 'same-origin',
    headers: { 'X-CSRF-Token': csrf(), 'Content-Type': 'application/octet-stream' },
  });
  const data = await res.json().catch(() => ({ message: res.statusText }));
  if (!res.ok) {
    const err = Object.assign(new Error(data.message || res.statusText), { rows: data.errors });
    throw err;
  }
  return data;
}

byTestId('question-form').addEventListener('submit', guard(async (event) => {
  const form = event.target;
  const lines = form.options.value.split('\n').map((s) => s.trim()).filter(Boolean);
  await api('POST', `/api/admin/banks/${form.bank.value}/questions`, {
    kind: form.kind.value, stem: form.stem.value, options: lines,
    answer: form.answer.value, points: Number(form.points.value),
  });
  form.stem.value = ''; form.options.value = ''; form.answer.value = '';
  notify('题目已添加');
  await loadBanks();
}));

// ---------------------------------------------------------------- papers
function beijing(value) { return value ? `${value}:00+08:00` : null; }

async function loadPapers() {
  const { papers } = await api('GET', '/api/admin/papers');
  byTestId('paper-list').querySelector('tbody').replaceChildren(...papers.map((p) => el('tr', { testid: 'paper-row', 'data-paper-id': p.id },
    el('td', {}, p.class_name), el('td', {}, p.kind === 'mock' ? '模拟考试' : '正式考试'), el('td', {}, p.title),
    el('td', {}, String(p.question_count)), el('td', {}, String(p.total_points)), el('td', {}, `${Math.round(p.time_limit_s / 60)} 分钟`),
    el('td', {}, p.opens_at || p.closes_at ? `${when(p.opens_at) || '不限'} 至 ${when(p.closes_at) || '不限'}` : '不限'),
    el('td', {}, String(p.attempt_count)),
    el('td', {}, el('button', { type: 'button', class: 'danger', onclick: guard(async () => {
      await api('DELETE', `/api/admin/papers/${p.id}`);
      notify('试卷已删除');
      await loadPapers(); await loadClasses();
    }) }, '删除')))));
}

byTestId('paper-form').addEventListener('submit', guard(async (event) => {
  const form = event.target;
  const kinds = ['single', 'multiple', 'truefalse'];
  const picked = kinds.some((k) => form[`pick_${k}`].value !== '');
  const pick = picked ? Object.fromEntries(kinds.map((k) => [k, Number(form[`pick_${k}`].value || 0)])) : undefined;
  const created = await api('POST', '/api/admin/papers', {
    pick,
    class_id: Number(form.class_id.value), kind: form.kind.value, title: form.title.value,
    time_limit_s: Number(form.minutes.value) * 60,
    opens_at: beijing(form.opens_at.value), closes_at: beijing(form.closes_at.value),
    bank_id: Number(form.bank_id.value),
  });
  notify(`已创建试卷“${form.title.value}”（${created.question_count} 题）`);
  form.title.value = '';
  await loadPapers();
  await loadClasses();
}));

// ---------------------------------------------------------------- results exports (rule M4)
async function loadExports() {
  const [{ classes }, { papers }] = await Promise.all([api('GET', '/api/admin/classes'), api('GET', '/api/admin/papers')]);
  const form = byTestId('export-form');
  options(form.class_id, classes, (c) => c.name);
  const update = () => {
    const mine = papers.filter((p) => String(p.class_id) === form.class_id.value);
    const keep = form.paper_id.value;
    form.paper_id.replaceChildren(el('option', { value: '' }, '全部试卷'),
      ...mine.map((p) => el('option', { value: p.id }, `${p.kind === 'mock' ? '模拟' : '正式'} · ${p.title}`)));
    if (mine.some((p) => String(p.id) === keep)) form.paper_id.value = keep;
    const query = form.paper_id.value ? `?paper_id=${form.paper_id.value}` : '';
    for (const ext of ['csv', 'xlsx']) {
      const link = byTestId(`export-${ext}`);
      link.hidden = !form.class_id.value;
      link.href = `/api/exports/classes/${form.class_id.value}/results.${ext}${query}`;
    }
  };
  form.class_id.onchange = update;
  form.paper_id.onchange = update;
  update();
}

// ---------------------------------------------------------------- webhooks (rule M4)
const EVENT = { 'attempt.ended': '考试结束', 'result.published': '成绩发布', 'review.decided': '审核结论' };

async function loadWebhooks() {
  const { webhooks } = await api('GET', '/api/admin/webhooks');
  byTestId('webhook-list').querySelector('tbody').replaceChildren(...webhooks.map((w) => el('tr', { testid: `webhook-row-${w.id}` },
    el('td', {}, String(w.id)), el('td', {}, w.url), el('td', {}, w.events.map((e) => EVENT[e] ?? e).join('、')),
    el('td', {}, w.active ? '启用' : '已停用'), el('td', {}, String(w.pending)), el('td', {}, String(w.delivered)),
    el('td', {}, String(w.failed)),
    el('td', {}, w.active ? el('button', { type: 'button', class: 'danger', testid: `webhook-delete-${w.id}`, onclick: guard(async () => {
      await api('DELETE', `/api/admin/webhooks/${w.id}`);
      notify('已停用该接收地址');
      await loadWebhooks();
    }) }, '停用') : ''))));
}

byTestId('webhook-form').addEventListener('submit', guard(async (event) => {
  const form = event.target;
  const events = [...form.querySelectorAll('input[name="events"]:checked')].map((i) => i.value);
  const made = await api('POST', '/api/admin/webhooks', { url: form.url.value, secret: form.secret.value || undefined, events });
  notify(`已登记 ${made.url}。签名密钥（只显示这一次，请妥善保存）：${made.secret}`);
  form.url.value = ''; form.secret.value = '';
  await loadWebhooks();
}));

signedIn().then(() => Promise.all([loadClasses(), loadBanks(), loadPapers(), loadExports(), loadWebhooks()])).catch(fail);
