// Administrator page (rules C1, C2, C4): classes and enrolment, question
// banks and their CSV/JSON import, papers built from a bank.
import { api, csrf } from './api.js';
import { byTestId, el, setError } from './dom.js';
import { signedIn } from './page-session.js';
import { t } from './i18n.js';

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
    el('td', {}, el('button', { type: 'button', class: 'secondary', testid: `class-open-${c.id}`, onclick: guard(() => openClass(c.id)) }, t('admin.s113'))))));
  options(byTestId('paper-class'), classes, (c) => c.name);
}

async function openClass(classId) {
  selectedClass = classId;
  const detail = await api('GET', `/api/admin/classes/${classId}`);
  byTestId('class-detail').hidden = false;
  byTestId('class-detail-name').textContent = t('admin.s114', { name: detail.name });
  byTestId('member-list').querySelector('tbody').replaceChildren(...detail.members.map((m) => el('tr', { testid: 'member-row' },
    el('td', {}, m.username), el('td', {}, m.real_name),
    el('td', {}, el('button', { type: 'button', class: 'danger', onclick: guard(async () => {
      await api('DELETE', `/api/admin/classes/${classId}/members/${m.id}`);
      await openClass(classId); await loadClasses();
    }) }, t('admin.s115'))))));
}

byTestId('class-form').addEventListener('submit', guard(async (event) => {
  const form = event.target;
  const created = await api('POST', '/api/admin/classes', { name: form.name.value });
  form.reset();
  notify(t('admin.s116', { name: created.name }));
  await loadClasses();
  await openClass(created.id);
}));

byTestId('member-form').addEventListener('submit', guard(async (event) => {
  const form = event.target;
  const member = await api('POST', `/api/admin/classes/${selectedClass}/members`, { username: form.username.value });
  form.reset();
  notify(t('admin.s117', { real_name: member.real_name, username: member.username }));
  await openClass(selectedClass);
  await loadClasses();
}));

// ---------------------------------------------------------------- banks and questions
async function loadBanks() {
  const { banks } = await api('GET', '/api/admin/banks');
  byTestId('bank-list').querySelector('tbody').replaceChildren(...banks.map((b) => el('tr', { testid: 'bank-row', 'data-bank-id': b.id },
    el('td', {}, b.name), el('td', {}, String(b.single)), el('td', {}, String(b.multiple)),
    el('td', {}, String(b.truefalse)), el('td', { testid: 'bank-total' }, String(b.total)),
    el('td', {}, el('button', { type: 'button', class: 'secondary', testid: `bank-open-${b.id}`, onclick: guard(() => openBank(b)) }, t('admin.s118'))))));
  for (const id of ['import-bank', 'question-bank', 'paper-bank']) {
    options(byTestId(id), banks, (b) => (id === 'paper-bank' ? t('admin.s119', { name: b.name, total: b.total }) : b.name));
  }
}

const KIND_LABELS = { single: t('admin.s29'), multiple: t('admin.s30'), truefalse: t('admin.s31') };
const LETTERS = 'ABCDEFGH';

function keyText(q) {
  if (q.kind === 'truefalse') return q.answer ? t('admin.s120') : t('admin.s121');
  return Array.isArray(q.answer) ? q.answer.join('') : q.answer;
}

async function openBank(bank) {
  const { questions } = await api('GET', `/api/admin/banks/${bank.id}/questions`);
  byTestId('bank-questions-box').hidden = false;
  byTestId('bank-questions-title').textContent = t('admin.s122', { name: bank.name, length: questions.length });
  byTestId('bank-questions').querySelector('tbody').replaceChildren(...questions.map((q, i) => el('tr', { testid: 'bank-question-row' },
    el('td', {}, String(i + 1)), el('td', {}, KIND_LABELS[q.kind]),
    el('td', {}, q.stem, q.kind === 'truefalse' ? null
      : el('div', { class: 'meta' }, q.options.map((o, j) => `${LETTERS[j]}. ${o}`).join(t('admin.s123')))),
    el('td', {}, keyText(q)), el('td', {}, String(q.points)),
    el('td', {}, el('button', { type: 'button', class: 'danger', onclick: guard(async () => {
      await api('DELETE', `/api/admin/questions/${q.id}`);
      notify(t('admin.s124'));
      await openBank(bank); await loadBanks();
    }) }, t('admin.s125'))))));
}

byTestId('bank-form').addEventListener('submit', guard(async (event) => {
  const form = event.target;
  const created = await api('POST', '/api/admin/banks', { name: form.name.value });
  form.reset();
  notify(t('admin.s126', { name: created.name }));
  await loadBanks();
}));

// the chosen file's name beside the Chinese button (the browser's own text is hidden)
function showChosenFile() {
  const file = byTestId('import-file').files[0];
  byTestId('import-file-name').textContent = file ? file.name : t('admin.import-file-name');
}
byTestId('import-file').addEventListener('change', showChosenFile);

byTestId('import-form').addEventListener('submit', guard(async (event) => {
  const form = event.target;
  const file = form.file.files[0];
  const box = byTestId('import-result');
  box.replaceChildren();
  try {
    const result = await fetchImport(form.bank.value, file);
    notify(t('admin.s127', { added: result.added, skipped: result.skipped }));
    form.file.value = '';
    showChosenFile();
  } catch (err) {
    if (err.rows) {
      box.replaceChildren(el('table', { class: 'grid', testid: 'import-errors' },
        el('thead', {}, el('tr', {}, el('th', {}, t('admin.s128')), el('th', {}, t('admin.s129')), el('th', {}, t('admin.s121')))),
        el('tbody', {}, err.rows.map((e) => el('tr', {}, el('td', {}, e.row ? String(e.row) : t('admin.s131')), el('td', {}, e.field), el('td', {}, e.message))))));
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
  notify(t('admin.s132'));
  await loadBanks();
}));

// ---------------------------------------------------------------- papers
function beijing(value) { return value ? `${value}:00+08:00` : null; }

async function loadPapers() {
  const { papers } = await api('GET', '/api/admin/papers');
  byTestId('paper-list').querySelector('tbody').replaceChildren(...papers.map((p) => el('tr', { testid: 'paper-row', 'data-paper-id': p.id },
    el('td', {}, p.class_name), el('td', {}, p.kind === 'mock' ? t('admin.s34') : t('admin.s35')), el('td', {}, p.title),
    el('td', {}, String(p.question_count)), el('td', {}, String(p.total_points)), el('td', {}, t('papers.s1', { v: Math.round(p.time_limit_s / 60) })),
    el('td', {}, p.opens_at || p.closes_at ? t('admin.s136', { v: when(p.opens_at) || t('admin.s137'), v2: when(p.closes_at) || t('admin.s137') }) : t('admin.s137')),
    el('td', {}, String(p.attempt_count)),
    el('td', {}, el('button', { type: 'button', class: 'danger', onclick: guard(async () => {
      await api('DELETE', `/api/admin/papers/${p.id}`);
      notify(t('admin.s138'));
      await loadPapers(); await loadClasses();
    }) }, t('admin.s125'))))));
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
  notify(t('admin.s140', { value: form.title.value, question_count: created.question_count }));
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
    form.paper_id.replaceChildren(el('option', { value: '' }, t('admin.s56')),
      ...mine.map((p) => el('option', { value: p.id }, t('admin.s142', { v: p.kind === 'mock' ? t('admin.s3') : t('admin.s4'), title: p.title }))));
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
const EVENT = { 'attempt.ended': t('admin.s108'), 'result.published': t('admin.s109'), 'review.decided': t('admin.s110') };

async function loadWebhooks() {
  const { webhooks } = await api('GET', '/api/admin/webhooks');
  byTestId('webhook-list').querySelector('tbody').replaceChildren(...webhooks.map((w) => el('tr', { testid: `webhook-row-${w.id}` },
    el('td', {}, String(w.id)), el('td', {}, w.url), el('td', {}, w.events.map((e) => EVENT[e] ?? e).join(t('admin.s146'))),
    el('td', {}, w.active ? t('admin.s147') : t('admin.s148')), el('td', {}, String(w.pending)), el('td', {}, String(w.delivered)),
    el('td', {}, String(w.failed)),
    el('td', {}, w.active ? el('button', { type: 'button', class: 'danger', testid: `webhook-delete-${w.id}`, onclick: guard(async () => {
      await api('DELETE', `/api/admin/webhooks/${w.id}`);
      notify(t('admin.s149'));
      await loadWebhooks();
    }) }, t('admin.s150')) : ''))));
}

byTestId('webhook-form').addEventListener('submit', guard(async (event) => {
  const form = event.target;
  const events = [...form.querySelectorAll('input[name="events"]:checked')].map((i) => i.value);
  const made = await api('POST', '/api/admin/webhooks', { url: form.url.value, secret: form.secret.value || undefined, events });
  notify(t('admin.s151', { url: made.url, secret: made.secret }));
  form.url.value = ''; form.secret.value = '';
  await loadWebhooks();
}));

signedIn().then(() => Promise.all([loadClasses(), loadBanks(), loadPapers(), loadExports(), loadWebhooks()])).catch(fail);
