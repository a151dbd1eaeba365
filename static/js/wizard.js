// The exam request wizard (rules B1–B5), a modal in three steps:
// 1 candidate type → 2 materials (uploads) → 3 personal information → submit.
// Resubmitting after a rejection (rule B6) opens it prefilled with the last request.
import { api, csrf } from './api.js';
import { el, setError } from './dom.js';
import { t } from './i18n.js';

const CATEGORIES = [
  ['A', '企业主要负责人（A）'],
  ['B', '项目负责人（B）'],
  ['C1', '机械类专职安全员（C1）'],
  ['C2', '土建类专职安全员（C2）'],
];

async function uploadFile(file, path = '/api/uploads') {
  const headers = { 'Content-Type': 'application/octet-stream' };
  if (csrf()) headers['X-CSRF-Token'] = csrf();
  const res = await fetch(`${path}?name=${encodeURIComponent(file.name)}`, {
    method: 'POST', body: file, headers, credentials: 'same-origin',
  });
  const data = await res.json().catch(() => ({ message: `上传失败（${res.status}）` }));
  if (!res.ok) throw new Error(data.message || `上传失败（${res.status}）`);
  return data;
}

export function openWizard(root, mine, onDone) {
  const last = mine.request;  // the rejected request, for prefill (rule B6)
  const state = {
    step: 1,
    type: last ? last.candidate_type : null,
    category: last && last.candidate_type === 'social' ? last.category : '',
    training: null,
    docs: {},
  };
  for (const doc of (last ? last.documents : [])) state.docs[doc.role] = { id: doc.upload_id, name: doc.name };
  const source = last || {};
  const profile = mine.profile || {};
  const personal = {
    real_name: source.real_name || profile.real_name || '',
    id_card: source.id_card || profile.id_card || '',
    gender: source.gender || '',
    phone: source.phone || profile.phone || '',
    company_name: source.company_name || '',
    company_uscc: source.company_uscc || '',
    position: source.position || '',
  };

  const error = el('p', { class: 'error', testid: 'wizard-error', role: 'alert', hidden: true });
  // Issue #14: a field's error is shown at the field (and the field is
  // focused), not at the bottom of the dialog; it goes when the field changes.
  const fieldErrors = new WeakMap();
  const withError = (node, testid) => {
    const message = el('small', { class: 'error field-error', testid: `${testid}-error`, role: 'alert', hidden: true });
    fieldErrors.set(node, message);
    node.addEventListener('input', () => fieldError(node, ''));
    node.addEventListener('change', () => fieldError(node, ''));
    return el('div', { class: 'field' }, node, message);
  };
  const fieldError = (node, text) => {
    const message = fieldErrors.get(node);
    if (!message) { setError(error, text); return; }
    node.setAttribute('aria-invalid', text ? 'true' : 'false');
    message.textContent = text || '';
    message.hidden = !text;
    if (text) node.focus();
  };
  const body = el('div');
  const stepsBar = el('div', { class: 'steps' });
  const close = () => { root.hidden = true; root.replaceChildren(); };
  root.replaceChildren(el('div', { class: 'modal', role: 'dialog', 'aria-modal': 'true' },
    el('h2', {}, '完善考试信息'),
    stepsBar, body, error));
  root.hidden = false;
  render();

  function render() {
    setError(error, '');
    stepsBar.replaceChildren(...['选择考生类型', '上传材料', '完善个人信息'].map((label, i) =>
      el('span', { class: state.step === i + 1 ? 'active' : '' }, `${i + 1}. ${label}`)));
    body.replaceChildren(state.step === 1 ? stepType() : state.step === 2 ? stepMaterials() : stepPersonal());
  }

  function buttons(...items) { return el('div', { class: 'buttons' }, ...items); }
  function laterButton() {
    return el('button', { type: 'button', class: 'secondary', testid: 'wizard-close', onclick: close }, '稍后填写');
  }

  // Step 1 (rule B1): social or non-social; non-social needs 32 hours (rule B2).
  function stepType() {
    const option = (value, title, text) => el('label', { class: 'card' },
      el('input', { type: 'radio', name: 'ctype', value, testid: `wizard-type-${value.replace('_', '-')}`,
        checked: state.type === value, onchange: () => { state.type = value; } }),
      ' ', el('strong', {}, title), el('p', { class: 'status' }, text));
    const stop = el('div', { class: 'notice', testid: 'wizard-training-short', hidden: true });
    const next = el('button', { type: 'button', testid: 'wizard-next', onclick: async () => {
      setError(error, '');
      stop.hidden = true;
      if (!state.type) return setError(error, '请选择考生类型');
      if (state.type === 'non_social') {
        try {
          state.training = await api('GET', '/api/training/me');
        } catch (e) { return setError(error, e.message); }
        if (!state.training.found) {
          stop.textContent = '未查询到您在从业人员在线辅导系统的学习记录。如您未参加该系统的培训，请选择“社会化考生”。';
          stop.hidden = false;
          return;
        }
        if (!state.training.complete) {
          stop.replaceChildren(
            el('strong', {}, '学时不足，暂不能提交考试信息。'),
            el('p', {}, `已完成学时：`, el('span', { testid: 'training-hours-done' }, String(state.training.hours)),
              `，还差学时：`, el('span', { testid: 'training-hours-missing' }, String(state.training.missing_hours)),
              `（需满 ${state.training.required_hours} 学时）。`));
          stop.hidden = false;
          return;
        }
      }
      state.step = 2;
      render();
    } }, '下一步');
    return el('div', { testid: 'wizard-step-type' },
      option('non_social', t('request.type.non_social'), '在“从业人员在线辅导系统”培训学习的考生，需完成32学时的学习。'),
      option('social', t('request.type.social'), '未在“从业人员在线辅导系统”培训的考生。'),
      stop, buttons(laterButton(), next));
  }

  // The ID photo (rule I1) goes to its own endpoint: the server checks it holds
  // exactly one clear face and says what is wrong otherwise.
  const ID_PHOTO = {
    path: '/api/uploads/id-photo',
    accept: '.jpg,.jpeg,.png,image/jpeg,image/png',
    hint: '本人近期正面免冠证件照，jpg 或 png 格式，人脸清晰，不超过 5 MB',
  };

  function fileField(role, testid, kind = null) {
    const status = el('span', { class: 'status', testid: `${testid}-status` },
      state.docs[role] ? `已上传：${state.docs[role].name}`
        : kind ? kind.hint : '支持 jpg、png、pdf 格式，不超过 10 MB');
    const input = el('input', { type: 'file',
      accept: kind ? kind.accept : '.jpg,.jpeg,.png,.pdf,image/jpeg,image/png,application/pdf',
      testid, onchange: async () => {
        const file = input.files[0];
        if (!file) return;
        status.textContent = kind ? '正在上传并检测人脸…' : '正在上传…';
        status.className = 'status';
        try {
          const up = await uploadFile(file, kind ? kind.path : '/api/uploads');
          state.docs[role] = { id: up.id, name: up.name };
          status.textContent = `已上传：${up.name}`;
        } catch (e) {
          delete state.docs[role];
          status.textContent = e.message;
          status.className = 'error';
        }
      } });
    const required = role !== 'id_photo' || mine.id_photo_required;
    // issue #14: the browser's own button says "Choose File" in an English
    // browser; the input sits, still focusable, inside a button in Chinese
    const pick = el('label', { class: 'file-pick' }, input,
      el('span', { class: 'file-pick-button', 'aria-hidden': 'true' }, '选择文件'));
    return [el('span', { class: required ? 'req' : '' }, t(`request.doc.${role}`)),
      el('div', {}, pick, el('br'), status)];
  }

  // Step 2 (rules B2, B3, B4): the category and the documents.
  function stepMaterials() {
    const grid = el('div', { class: 'form-grid' });
    if (state.type === 'non_social') {
      state.category = state.training.category;
      grid.append(el('span', {}, '考试类型'),
        el('strong', { testid: 'wizard-category-fixed' }, state.training.category_name),
        el('span', {}, '已完成学时'), el('span', {}, String(state.training.hours)));
    } else {
      const select = el('select', { testid: 'wizard-category', onchange: () => { state.category = select.value; } },
        el('option', { value: '' }, '请选择考试类型'),
        ...CATEGORIES.map(([value, label]) => el('option', { value, selected: state.category === value }, label)));
      grid.append(el('span', { class: 'req' }, '考试类型'), withError(select, 'wizard-category'));
    }
    grid.append(...fileField('commitment_letter', 'wizard-file-commitment'));
    if (state.type === 'social') grid.append(...fileField('study_proof', 'wizard-file-proof'));
    grid.append(...fileField('id_photo', 'wizard-file-id-photo', ID_PHOTO));
    const notes = el('p', { class: 'notice' }, state.type === 'social'
      ? '注意：企业法人承诺书必须加盖企业公章；学习证明材料必须加盖培训机构公章。本步骤所有项目均为必填。'
      : '注意：企业法人承诺书必须加盖企业公章。考试类型与“从业人员在线辅导系统”一致，不可更改。');
    const back = el('button', { type: 'button', class: 'secondary', onclick: () => { state.step = 1; render(); } }, '上一步');
    const next = el('button', { type: 'button', testid: 'wizard-next', onclick: () => {
      const category = body.querySelector('[data-testid="wizard-category"]');
      if (state.type === 'social' && !state.category) return fieldError(category, '请选择考试类型');
      if (!state.docs.commitment_letter) return setError(error, '请上传企业法人承诺书');
      if (state.type === 'social' && !state.docs.study_proof) return setError(error, '请上传学习证明材料');
      if (mine.id_photo_required && !state.docs.id_photo) return setError(error, '请上传证件照');
      state.step = 3;
      render();
    } }, '下一步');
    return el('div', { testid: 'wizard-step-materials' }, grid, notes, buttons(laterButton(), back, next));
  }

  // Step 3 (rule B5): personal information, starred fields required.
  function stepPersonal() {
    const input = (key, label, attrs = {}) => {
      const testid = `wizard-${key.replace('_', '-')}`;
      const node = el('input', { value: personal[key], testid, 'aria-label': label, ...attrs,
        oninput: () => { personal[key] = node.value; } });
      nodes[key] = node;
      return [el('span', { class: 'req' }, label), withError(node, testid)];
    };
    const nodes = {};
    const gender = el('select', { testid: 'wizard-gender', onchange: () => { personal.gender = gender.value; } },
      el('option', { value: '' }, '请选择'),
      el('option', { value: 'male', selected: personal.gender === 'male' }, t('request.gender.male')),
      el('option', { value: 'female', selected: personal.gender === 'female' }, t('request.gender.female')));
    const grid = el('div', { class: 'form-grid' },
      ...input('real_name', '真实姓名', { maxlength: 30 }),
      ...input('id_card', '身份证号码', { maxlength: 18 }),
      el('span', { class: 'req' }, '性别'), withError(gender, 'wizard-gender'),
      ...input('phone', '手机号码', { maxlength: 11 }),
      ...input('company_name', '企业名称', { maxlength: 100 }),
      el('span', {}, ''), el('small', { class: 'status', testid: 'wizard-company-note' }, t('request.company.note')),
      ...input('company_uscc', '统一社会信用代码', { maxlength: 18 }),
      ...input('position', '职务', { maxlength: 50 }));
    const back = el('button', { type: 'button', class: 'secondary', onclick: () => { state.step = 2; render(); } }, '上一步');
    const submit = el('button', { type: 'button', testid: 'wizard-submit', onclick: async () => {
      setError(error, '');
      const missing = ['real_name', 'id_card', 'gender', 'phone', 'company_name', 'company_uscc', 'position']
        .filter((key) => !String(personal[key]).trim());
      nodes.gender = gender;
      if (missing.length) {
        [...missing].reverse().forEach((key) => fieldError(nodes[key], '此项为必填项'));  // the first is focused
        return setError(error, '请填写所有带 * 的必填项');
      }
      submit.disabled = true;
      try {
        await api('POST', '/api/requests', {
          candidate_type: state.type,
          category: state.type === 'social' ? state.category : undefined,
          commitment_letter: state.docs.commitment_letter && state.docs.commitment_letter.id,
          study_proof: state.type === 'social' ? state.docs.study_proof && state.docs.study_proof.id : undefined,
          id_photo: state.docs.id_photo ? state.docs.id_photo.id : undefined,
          ...Object.fromEntries(Object.entries(personal).map(([k, v]) => [k, String(v).trim()])),
        });
        success();
      } catch (e) {
        submit.disabled = false;
        const field = fieldOf(e.code);
        if (field && nodes[field]) fieldError(nodes[field], e.message);
        else setError(error, e.message);
      }
    } }, '提交');
    return el('div', { testid: 'wizard-step-personal' }, el('p', { class: 'status' }, '带 * 的为必填项。'),
      grid, buttons(laterButton(), back, submit));
  }

  // The field a server's refusal names (exam_api/requests.py validate_personal).
  function fieldOf(code) {
    if (!code) return null;
    if (code.startsWith('id_card')) return 'id_card';
    if (code.startsWith('uscc')) return 'company_uscc';
    if (code === 'gender_mismatch' || code === 'bad_gender') return 'gender';
    const named = code.replace(/^bad_/, '');
    return ['real_name', 'phone', 'company_name', 'position'].includes(named) ? named : null;
  }

  // Rule B5: submit → success dialog → status "under review".
  function success() {
    stepsBar.replaceChildren();
    body.replaceChildren(el('div', { testid: 'wizard-success', class: 'ok' },
      el('h3', {}, '提交成功'),
      el('p', {}, '您的考试信息已提交，请等待审核。可在“个人审核”中查看审核状态。'),
      buttons(el('button', { type: 'button', testid: 'wizard-success-ok', onclick: () => { close(); onDone(); } }, '确定'))));
  }
}
