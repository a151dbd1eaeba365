// 个人审核 (rule B6): status, the submitted data, the reason of a rejection, resubmit.
import { api } from './api.js';
import { byTestId, el } from './dom.js';
import { t } from './i18n.js';
import { signedIn } from './page-session.js';

await signedIn();
const data = await api('GET', '/api/requests/mine');
const status = byTestId('review-status');
status.textContent = t(`request.status.${data.status}`);
status.className = `status-${data.status}`;
const r = data.request;
if (r) {
  const rows = [
    [t('review_status.s11'), t(`request.type.${r.candidate_type}`)],
    [t('wizard.s26'), r.category_name],
    [t('register.s7'), r.real_name],
    [t('register.s8'), r.id_card],
    [t('wizard.s41'), t(`request.gender.${r.gender}`)],
    [t('register.s9'), r.phone],
    [t('wizard.s43'), r.company_name],
    [t('wizard.s44'), r.company_uscc],
    [t('wizard.s45'), r.position],
    [t('review_status.s20'), new Date(r.submitted_at).toLocaleString('zh-CN', { hour12: false })],
  ];
  if (r.training_hours !== null) rows.splice(2, 0, [t('wizard.s27'), String(r.training_hours)]);
  byTestId('review-data').replaceChildren(...rows.flatMap(([k, v]) => [el('dt', {}, k), el('dd', {}, v)]));
  byTestId('review-documents').replaceChildren(...r.documents.map((d) =>
    el('li', {}, t('review_status.s22', { role_name: d.role_name }), el('a', { href: d.url, target: '_blank', rel: 'noopener' }, d.name))));
  if (data.status === 'rejected') {
    byTestId('review-reason-box').hidden = false;
    byTestId('review-reason').textContent = r.reason || '';
  }
} else {
  byTestId('review-data').replaceChildren(el('p', {}, t('review_status.s23')));
}
const resubmit = byTestId('review-resubmit');
resubmit.hidden = !(data.status === 'rejected' || data.status === 'none');
resubmit.textContent = data.status === 'none' ? t('review_status.s24') : t('review_status.review-resubmit');
resubmit.addEventListener('click', () => { location.href = '/static/home.html?resubmit=1'; });
