// Reviewer (rule B6): the queue of requests, the documents shown inline, approve or
// reject with a reason. Every name is shown as text, never as markup.
import { api } from './api.js';
import { byTestId, el, setError } from './dom.js';
import { t } from './i18n.js';
import { signedIn } from './page-session.js';

await signedIn();

const filter = byTestId('queue-filter');
filter.addEventListener('change', () => loadQueue());
let selected = null;

function when(iso) { return iso ? new Date(iso).toLocaleString('zh-CN', { hour12: false }) : ''; }

async function loadQueue() {
  const data = await api('GET', `/api/review/requests?status=${filter.value}`);
  const rows = data.requests.map((r) => el('tr', {
    testid: `queue-row-${r.id}`, class: r.id === selected ? 'selected' : '', style: 'cursor:pointer',
    onclick: () => showDetail(r.id),
  }, el('td', { testid: 'queue-name' }, r.real_name), el('td', {}, r.category_name),
  el('td', {}, when(r.submitted_at)), el('td', { class: `status-${r.status}`, testid: 'queue-status' }, t(`request.status.${r.status}`))));
  byTestId('queue').tBodies[0].replaceChildren(...rows);
  byTestId('queue-empty').hidden = rows.length > 0;
}

function documentView(doc) {
  // A PDF is served as an attachment (docs/security.d/http.md): the reviewer's
  // PDF reader opens it, never a frame inside this origin.
  const view = doc.kind === 'pdf'
    ? el('a', { href: doc.url, download: doc.name, class: 'doc-download', testid: `doc-${doc.role}` },
      t('reviewer.s16', { name: doc.name }))
    : el('img', { src: doc.url, alt: doc.name, testid: `doc-${doc.role}` });
  return el('div', { class: 'doc-view' },
    el('h3', {}, t('review_status.s22', { role_name: doc.role_name }), el('a', { href: doc.url, target: '_blank', rel: 'noopener' }, doc.name)), view);
}

async function showDetail(id) {
  selected = id;
  const { request: r } = await api('GET', `/api/review/requests/${id}`);
  const rows = [
    [t('review_status.s11'), t(`request.type.${r.candidate_type}`)],
    [t('wizard.s26'), r.category_name],
    [t('wizard.s27'), r.training_hours === null ? '—' : String(r.training_hours)],
    [t('register.s7'), r.real_name],
    [t('register.s8'), r.id_card],
    [t('wizard.s41'), t(`request.gender.${r.gender}`)],
    [t('register.s9'), r.phone],
    [t('wizard.s43'), r.company_name],
    [t('wizard.s44'), r.company_uscc],
    [t('wizard.s45'), r.position],
    [t('review_status.s20'), when(r.submitted_at)],
    [t('records.s15'), t(`request.status.${r.status}`)],
  ];
  if (r.reason) rows.push([t('reviewer.s30'), r.reason]);
  const error = el('p', { class: 'error', testid: 'decision-error', hidden: true });
  const reason = el('textarea', { testid: 'decision-reason', rows: 3, maxlength: 500, style: 'width:100%',
    placeholder: t('reviewer.placeholder') });
  const decide = async (decision) => {
    setError(error, '');
    try {
      await api('POST', `/api/review/requests/${id}/decision`, { decision, reason: reason.value.trim() });
      await loadQueue();
      await showDetail(id);
    } catch (e) { setError(error, e.message); }
  };
  const actions = r.status === 'pending' ? el('div', {},
    el('h3', {}, t('reviewer.s31')),
    el('p', { class: 'notice' }, t('reviewer.s32')),
    reason, error,
    el('div', { class: 'buttons' },
      el('button', { type: 'button', class: 'danger', testid: 'decision-reject', onclick: () => decide('reject') }, t('reviewer.s33')),
      el('button', { type: 'button', testid: 'decision-approve', onclick: () => decide('approve') }, t('reviewer.s34'))))
    : '';  // decided: no actions (null would be shown as the text "null")
  const audit = el('ul', { testid: 'audit' }, ...(r.audit || []).map((a) => el('li', {},
    t('reviewer.s35', { v: when(a.decided_at), v2: a.reviewer.real_name || a.reviewer.username, v3: t(`request.status.${a.decision}`) }),
    a.reason ? t('reviewer.s36', { reason: a.reason }) : '')));
  const history = (r.history || []).length
    ? el('ul', { testid: 'history' }, ...r.history.map((h) => el('li', {},
      t('reviewer.s37', { v: when(h.submitted_at), category_name: h.category_name, v2: t(`request.status.${h.status}`) }),
      h.reason ? t('reviewer.s38', { reason: h.reason }) : '',
      ...h.audit.map((a) => el('div', { class: 'meta' },
        t('reviewer.s35', { v: when(a.decided_at), v2: a.reviewer.real_name || a.reviewer.username, v3: t(`request.status.${a.decision}`) }))))))
    : el('p', { class: 'meta', testid: 'history' }, t('reviewer.history'));
  byTestId('detail').replaceChildren(
    el('h2', { testid: 'detail-name' }, r.real_name),
    el('dl', { class: 'kv' }, ...rows.flatMap(([k, v]) => [el('dt', {}, k), el('dd', {}, v)])),
    ...r.documents.map(documentView),
    actions,
    el('h3', {}, t('reviewer.s41')), audit,
    el('h3', {}, t('reviewer.s42')), history);
  await loadQueue();
}

await loadQueue();
