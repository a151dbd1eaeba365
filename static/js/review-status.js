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
    ['考生类型', t(`request.type.${r.candidate_type}`)],
    ['考试类型', r.category_name],
    ['真实姓名', r.real_name],
    ['身份证号码', r.id_card],
    ['性别', t(`request.gender.${r.gender}`)],
    ['手机号码', r.phone],
    ['企业名称', r.company_name],
    ['统一社会信用代码', r.company_uscc],
    ['职务', r.position],
    ['提交时间', new Date(r.submitted_at).toLocaleString('zh-CN', { hour12: false })],
  ];
  if (r.training_hours !== null) rows.splice(2, 0, ['已完成学时', String(r.training_hours)]);
  byTestId('review-data').replaceChildren(...rows.flatMap(([k, v]) => [el('dt', {}, k), el('dd', {}, v)]));
  byTestId('review-documents').replaceChildren(...r.documents.map((d) =>
    el('li', {}, `${d.role_name}：`, el('a', { href: d.url, target: '_blank', rel: 'noopener' }, d.name))));
  if (data.status === 'rejected') {
    byTestId('review-reason-box').hidden = false;
    byTestId('review-reason').textContent = r.reason || '';
  }
} else {
  byTestId('review-data').replaceChildren(el('p', {}, '您尚未提交考试信息。'));
}
const resubmit = byTestId('review-resubmit');
resubmit.hidden = !(data.status === 'rejected' || data.status === 'none');
resubmit.textContent = data.status === 'none' ? '提交考试信息' : '重新提交审核';
resubmit.addEventListener('click', () => { location.href = '/static/home.html?resubmit=1'; });
