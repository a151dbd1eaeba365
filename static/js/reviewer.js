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
      `下载 PDF 查看：${doc.name}`)
    : el('img', { src: doc.url, alt: doc.name, testid: `doc-${doc.role}` });
  return el('div', { class: 'doc-view' },
    el('h3', {}, `${doc.role_name}：`, el('a', { href: doc.url, target: '_blank', rel: 'noopener' }, doc.name)), view);
}

async function showDetail(id) {
  selected = id;
  const { request: r } = await api('GET', `/api/review/requests/${id}`);
  const rows = [
    ['考生类型', t(`request.type.${r.candidate_type}`)],
    ['考试类型', r.category_name],
    ['已完成学时', r.training_hours === null ? '—' : String(r.training_hours)],
    ['真实姓名', r.real_name],
    ['身份证号码', r.id_card],
    ['性别', t(`request.gender.${r.gender}`)],
    ['手机号码', r.phone],
    ['企业名称', r.company_name],
    ['统一社会信用代码', r.company_uscc],
    ['职务', r.position],
    ['提交时间', when(r.submitted_at)],
    ['状态', t(`request.status.${r.status}`)],
  ];
  if (r.reason) rows.push(['原因', r.reason]);
  const error = el('p', { class: 'error', testid: 'decision-error', hidden: true });
  const reason = el('textarea', { testid: 'decision-reason', rows: 3, maxlength: 500, style: 'width:100%',
    placeholder: '不通过时必须填写原因，例如：承诺书未加盖企业公章' });
  const decide = async (decision) => {
    setError(error, '');
    try {
      await api('POST', `/api/review/requests/${id}/decision`, { decision, reason: reason.value.trim() });
      await loadQueue();
      await showDetail(id);
    } catch (e) { setError(error, e.message); }
  };
  const actions = r.status === 'pending' ? el('div', {},
    el('h3', {}, '审核'),
    el('p', { class: 'notice' }, '请核对：承诺书加盖企业公章、学习证明加盖培训机构公章、企业名称与承诺书一致。'),
    reason, error,
    el('div', { class: 'buttons' },
      el('button', { type: 'button', class: 'danger', testid: 'decision-reject', onclick: () => decide('reject') }, '不通过'),
      el('button', { type: 'button', testid: 'decision-approve', onclick: () => decide('approve') }, '通过')))
    : '';  // decided: no actions (null would be shown as the text "null")
  const audit = el('ul', { testid: 'audit' }, ...(r.audit || []).map((a) => el('li', {},
    `${when(a.decided_at)} ${a.reviewer.real_name || a.reviewer.username}：${t(`request.status.${a.decision}`)}`,
    a.reason ? `（${a.reason}）` : '')));
  const history = (r.history || []).length
    ? el('ul', { testid: 'history' }, ...r.history.map((h) => el('li', {},
      `${when(h.submitted_at)} 提交（${h.category_name}）：${t(`request.status.${h.status}`)}`,
      h.reason ? `，原因：${h.reason}` : '',
      ...h.audit.map((a) => el('div', { class: 'meta' },
        `${when(a.decided_at)} ${a.reviewer.real_name || a.reviewer.username}：${t(`request.status.${a.decision}`)}`)))))
    : el('p', { class: 'meta', testid: 'history' }, '无（首次提交）');
  byTestId('detail').replaceChildren(
    el('h2', { testid: 'detail-name' }, r.real_name),
    el('dl', { class: 'kv' }, ...rows.flatMap(([k, v]) => [el('dt', {}, k), el('dd', {}, v)])),
    ...r.documents.map(documentView),
    actions,
    el('h3', {}, '审核记录'), audit,
    el('h3', {}, '此前的考试请求'), history);
  await loadQueue();
}

await loadQueue();
