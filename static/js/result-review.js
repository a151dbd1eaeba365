// Result review (rule F2): attempts >= 60 wait here; the reviewer decides
// passed or failed, with a reason (required for failed). Audited server-side.
import { api } from './api.js';
import { byTestId, el, setError } from './dom.js';
import { signedIn } from './page-session.js';
import { t } from './i18n.js';

const when = (iso) => (iso ? new Date(iso).toLocaleString('zh-CN', { timeZone: 'Asia/Shanghai', hour12: false }) : '');
const who = (c) => t('result_review.s24', { real_name: c.real_name, username: c.username });

function decisionCell(item) {
  const reason = el('input', { placeholder: t('result_review.placeholder'), maxlength: 500, testid: `review-reason-${item.attempt_id}` });
  const decide = async (decision) => {
    setError(byTestId('review-error'), '');
    try {
      await api('POST', `/api/result-reviews/${item.attempt_id}`, { decision, reason: reason.value });
      await load();
    } catch (err) {
      setError(byTestId('review-error'), err.message);
    }
  };
  return el('td', {}, reason,
    el('button', { type: 'button', testid: `review-pass-${item.attempt_id}`, onclick: () => decide('passed') }, t('result_review.s25')), ' ',
    el('button', { type: 'button', class: 'danger', testid: `review-fail-${item.attempt_id}`, onclick: () => decide('failed') }, t('result_review.s26')));
}

async function load() {
  const [queue, decided] = await Promise.all([
    api('GET', '/api/result-reviews'), api('GET', '/api/result-reviews?decided=1')]);
  const qbody = byTestId('result-queue').querySelector('tbody');
  qbody.replaceChildren(...(queue.attempts.length ? queue.attempts.map((a) => el('tr', { testid: `queue-${a.attempt_id}` },
    el('td', {}, who(a.candidate)), el('td', {}, `${a.class_name} · ${a.paper_title}`),
    el('td', {}, String(a.score)), el('td', {}, String(a.violations)),
    el('td', {}, String(a.snapshot_count), ' ', el('a', { href: `/static/attempt-timeline.html?attempt=${a.attempt_id}`, target: '_blank', testid: `timeline-link-${a.attempt_id}` }, t('result_review.s27'))),
    el('td', {}, when(a.ended_at), el('div', { class: 'meta' }, a.end_reason_label)),
    decisionCell(a))) : [el('tr', {}, el('td', { colspan: 7 }, t('result_review.s28')))]));
  const dbody = byTestId('result-decided').querySelector('tbody');
  dbody.replaceChildren(...decided.attempts.map((a) => el('tr', {},
    el('td', {}, who(a.candidate)), el('td', {}, a.paper_title), el('td', {}, String(a.score)),
    el('td', {}, a.outcome_label), el('td', {}, a.reason || ''), el('td', {}, a.reviewer_name || ''),
    el('td', {}, when(a.decided_at)))));
}

signedIn().then(load).catch((err) => setError(byTestId('review-error'), err.message));
