// Exam records (rule F1): each attempt's score and status (rule F2 wording).
import { api } from './api.js';
import { byTestId, el, setError } from './dom.js';
import { signedIn } from './page-session.js';
import { t } from './i18n.js';

const when = (iso) => (iso ? new Date(iso).toLocaleString('zh-CN', { timeZone: 'Asia/Shanghai', hour12: false }) : '');

async function main() {
  await signedIn();
  const data = await api('GET', '/api/records');
  const body = byTestId('records').querySelector('tbody');
  if (!data.records.length) {
    body.replaceChildren(el('tr', {}, el('td', { colspan: 7, testid: 'records-empty' }, t('records.records-empty'))));
    return;
  }
  body.replaceChildren(...data.records.map((r) => el('tr', { testid: `record-${r.attempt_id}`, 'data-outcome': r.outcome },
    el('td', {}, r.paper_title),
    el('td', {}, r.kind_label),
    el('td', {}, r.class_name),
    el('td', {}, when(r.started_at)),
    el('td', {}, r.end_reason_label),
    el('td', { testid: 'record-score' }, r.score === null ? '—' : `${r.score}`),
    el('td', { testid: 'record-outcome' }, r.outcome_label,
      r.review_reason ? el('div', { class: 'meta' }, t('records.s18', { review_reason: r.review_reason })) : null,
      r.outcome === 'in_progress' ? el('div', {}, el('a', { href: `/static/exam.html?attempt=${r.attempt_id}` }, t('records.s19'))) : null),
  )));
}

main().catch((err) => setError(byTestId('records-error'), err.message));
