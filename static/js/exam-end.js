// The one end card of the PC exam page (issue #14): why the exam ended, the
// score or 待审核 (rule F2: a formal exam's score of 60 or more goes to a
// reviewer), what happens next, and where the records are. It replaces every
// banner of the running exam; the timer and the camera preview stop showing
// as live.
import { el } from './dom.js';
import { tx } from './exam-text.js';
import { t } from './i18n.js';

const REASONS = ['submitted', 'time_up', 'fifth_violation', 'invigilator', 'abandoned'];
const NEXT = ['mock_done', 'under_review', 'failed', 'passed'];

/** The candidate's sentence for an end reason (the hub's or the API's code). */
export function endReasonText(reason) {
  return REASONS.includes(reason) ? tx(`exam.end.reason.${reason}`) : tx('exam.end.title');
}

/**
 * @param {HTMLElement} box  the card (#exam-result)
 * @param {string} reason    the end reason's code
 * @param {any} end          the API's end view, or null while it is being read
 */
export function renderEndCard(box, reason, end) {
  const parts = [
    el('h2', { id: 'end-title' }, tx('exam.end.title')),
    el('p', { class: 'end-reason', testid: 'end-banner', role: 'alert' }, endReasonText(reason)),
  ];
  if (!end) {
    parts.push(el('p', { testid: 'exam-score-loading' }, tx('exam.end.loading')));
  } else {
    const review = end.outcome === 'under_review';
    parts.push(
      el('p', { class: 'end-score', testid: 'exam-score' },
        review ? tx('exam.end.score.review') : tx('exam.end.score', { score: end.score, scale: t('score.scale') })),
      el('p', { testid: 'exam-outcome' }, tx('exam.end.outcome', { label: end.outcome_label })),
      el('p', { testid: 'exam-next' }, tx(NEXT.includes(end.outcome) ? `exam.end.next.${end.outcome}` : 'exam.end.next.unknown')),
    );
  }
  parts.push(el('p', { class: 'end-links' },
    el('a', { href: '/static/records.html', testid: 'end-records' }, tx('exam.end.records')),
    el('a', { href: '/static/home.html' }, tx('records.s16'))));
  box.replaceChildren(...parts);
  box.hidden = false;
}
