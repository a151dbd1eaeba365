// The exam request wizard (rules B1–B5), a modal in three steps:
// 1 candidate type → 2 materials (uploads) → 3 personal information → submit.
// Resubmitting after a rejection (rule B6) opens it prefilled with the last request.
import { api, csrf } from './api.js';
import { el, setError } from './dom.js';
import { t } from './i18n.js';

const CATEGORIES = [
  ['A', t('wizard.s1')],
  ['B', t('wizard.s2')],
  ['C1', t('wizard.s3')],
  ['C2', t('wizard.s4')],
];

async function uploadFile(file, path = '/api/uploads') {
  const headers = { 'Content-Type': 'application/octet-stream' };
  if (csrf()) headers['X-CSRF-Token'] = csrf();
  const res = await fetch(`${path}?name=${encodeURIComponent(file.name)}`, {
    method: 'POST', body: file, headers, credentials: 'same-origin',
  });
  const data = await res.json().catch(() => ({ message: t('wizard.s5', { status: res.status }) }));
  if (!res.ok) throw new Error(data.message || t('wizard.s5', { status: res.status }));
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
    el('h2', {}, t('home.open-wizard')),
    stepsBar, body, error));
  root.hidden = false;
  render();

  function render() {
    setError(error, '');
    stepsBar.replaceChildren(...[t('wizard.s8'), t('wizard.s9'), t('wizard.s10')].map((label, i) =>
      el('span', { class: state.step === i + 1 ? 'active' : '' }, `${i + 1}. ${label}`)));
    body.replaceChildren(state.step === 1 ? stepType() : state.step === 2 ? stepMaterials() : stepPersonal());
  }

  function buttons(...items) { return el('div', { class: 'buttons' }, ...items); }
  function laterButton() {
    return el('button', { type: 'button', class: 'secondary', testid: 'wizard-close', onclick: close }, t('wizard.wizard-close'));
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
      if (!state.type) return setError(error, t('wizard.s12'));
      if (state.type === 'non_social') {
        try {
          state.training = await api('GET', '/api/training/me');
        } catch (e) { return setError(error, e.message); }
        if (!state.training.found) {
          stop.textContent = t('wizard.s13');
          stop.hidden = false;
          return;
        }
        if (!state.training.complete) {
          stop.replaceChildren(
            el('strong', {}, t('wizard.s14')),
            el('p', {}, t('wizard.s15'), el('span', { testid: 'training-hours-done' }, String(state.training.hours)),
              t('wizard.s16'), el('span', { testid: 'training-hours-missing' }, String(state.training.missing_hours)),
              t('wizard.s17', { required_hours: state.training.required_hours })));
          stop.hidden = false;
          return;
        }
      }
      state.step = 2;
      render();
    } }, t('wizard.s18'));
    return el('div', { testid: 'wizard-step-type' },
      option('non_social', t('request.type.non_social'), t('wizard.s19')),
      option('social', t('request.type.social'), t('wizard.s20')),
      stop, buttons(laterButton(), next));
  }

  // The ID photo (rule I1) goes to its own endpoint: the server checks it holds
  // exactly one clear face and says what is wrong otherwise.
  const ID_PHOTO = {
    path: '/api/uploads/id-photo',
    accept: '.jpg,.jpeg,.png,image/jpeg,image/png',
    hint: t('wizard.hint'),
  };

  function fileField(role, testid, kind = null) {
    const status = el('span', { class: 'status', testid: `${testid}-status` },
      state.docs[role] ? t('wizard.s21', { v: state.docs[role].name })
        : kind ? kind.hint : t('wizard.int'));
    const input = el('input', { type: 'file',
      accept: kind ? kind.accept : '.jpg,.jpeg,.png,.pdf,image/jpeg,image/png,application/pdf',
      testid, onchange: async () => {
        const file = input.files[0];
        if (!file) return;
        status.textContent = kind ? t('wizard.s22') : t('wizard.s23');
        status.className = 'status';
        try {
          const up = await uploadFile(file, kind ? kind.path : '/api/uploads');
          state.docs[role] = { id: up.id, name: up.name };
          status.textContent = t('wizard.s24', { name: up.name });
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
      el('span', { class: 'file-pick-button', 'aria-hidden': 'true' }, t('wizard.s25')));
    return [el('span', { class: required ? 'req' : '' }, t(`request.doc.${role}`)),
      el('div', {}, pick, el('br'), status)];
  }

  // Step 2 (rules B2, B3, B4): the category and the documents.
  function stepMaterials() {
    const grid = el('div', { class: 'form-grid' });
    if (state.type === 'non_social') {
      state.category = state.training.category;
      grid.append(el('span', {}, t('wizard.s26')),
        el('strong', { testid: 'wizard-category-fixed' }, state.training.category_name),
        el('span', {}, t('wizard.s27')), el('span', {}, String(state.training.hours)));
    } else {
      const select = el('select', { testid: 'wizard-category', onchange: () => { state.category = select.value; } },
        el('option', { value: '' }, t('wizard.s28')),
        ...CATEGORIES.map(([value, label]) => el('option', { value, selected: state.category === value }, label)));
      grid.append(el('span', { class: 'req' }, t('wizard.s26')), withError(select, 'wizard-category'));
    }
    grid.append(...fileField('commitment_letter', 'wizard-file-commitment'));
    if (state.type === 'social') grid.append(...fileField('study_proof', 'wizard-file-proof'));
    grid.append(...fileField('id_photo', 'wizard-file-id-photo', ID_PHOTO));
    const notes = el('p', { class: 'notice' }, state.type === 'social'
      ? t('wizard.s30')
      : t('wizard.s31'));
    const back = el('button', { type: 'button', class: 'secondary', onclick: () => { state.step = 1; render(); } }, t('wizard.s32'));
    const next = el('button', { type: 'button', testid: 'wizard-next', onclick: () => {
      const category = body.querySelector('[data-testid="wizard-category"]');
      if (state.type === 'social' && !state.category) return fieldError(category, t('wizard.s28'));
      if (!state.docs.commitment_letter) return setError(error, t('wizard.s34'));
      if (state.type === 'social' && !state.docs.study_proof) return setError(error, t('wizard.s35'));
      if (mine.id_photo_required && !state.docs.id_photo) return setError(error, t('wizard.s36'));
      state.step = 3;
      render();
    } }, t('wizard.s18'));
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
      el('option', { value: '' }, t('results.pick.none')),
      el('option', { value: 'male', selected: personal.gender === 'male' }, t('request.gender.male')),
      el('option', { value: 'female', selected: personal.gender === 'female' }, t('request.gender.female')));
    const grid = el('div', { class: 'form-grid' },
      ...input('real_name', t('register.s7'), { maxlength: 30 }),
      ...input('id_card', t('register.s8'), { maxlength: 18 }),
      el('span', { class: 'req' }, t('wizard.s41')), withError(gender, 'wizard-gender'),
      ...input('phone', t('register.s9'), { maxlength: 11 }),
      ...input('company_name', t('wizard.s43'), { maxlength: 100 }),
      el('span', {}, ''), el('small', { class: 'status', testid: 'wizard-company-note' }, t('request.company.note')),
      ...input('company_uscc', t('wizard.s44'), { maxlength: 18 }),
      ...input('position', t('wizard.s45'), { maxlength: 50 }));
    const back = el('button', { type: 'button', class: 'secondary', onclick: () => { state.step = 2; render(); } }, t('wizard.s32'));
    const submit = el('button', { type: 'button', testid: 'wizard-submit', onclick: async () => {
      setError(error, '');
      const missing = ['real_name', 'id_card', 'gender', 'phone', 'company_name', 'company_uscc', 'position']
        .filter((key) => !String(personal[key]).trim());
      nodes.gender = gender;
      if (missing.length) {
        [...missing].reverse().forEach((key) => fieldError(nodes[key], t('wizard.s47')));  // the first is focused
        return setError(error, t('wizard.s48'));
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
    } }, t('wizard.s49'));
    return el('div', { testid: 'wizard-step-personal' }, el('p', { class: 'status' }, t('wizard.s50')),
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
      el('h3', {}, t('wizard.s51')),
      el('p', {}, t('wizard.s52')),
      buttons(el('button', { type: 'button', testid: 'wizard-success-ok', onclick: () => { close(); onDone(); } }, t('wizard.s53')))));
  }
}
