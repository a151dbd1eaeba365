// Paper center (rules C1–C3): the candidate's papers, the mock open, the formal
// locked until the mock is submitted — with the reason, in Chinese.
// Used by home.html (section#papers) and class-papers.html (考试中心 → 班级试卷).
import { api } from './api.js';
import { el } from './dom.js';
import { t } from './i18n.js';

function minutes(seconds) { return t('papers.s1', { v: Math.round(seconds / 60) }); }

function when(iso) {
  if (!iso) return null;
  return new Date(iso).toLocaleString('zh-CN', { timeZone: 'Asia/Shanghai', hour12: false });
}

function windowText(paper) {
  const opens = when(paper.opens_at);
  const closes = when(paper.closes_at);
  if (opens && closes) return t('papers.s2', { opens, closes });
  if (opens) return t('papers.s3', { opens });
  if (closes) return t('papers.s4', { closes });
  return t('papers.s5');
}

async function start(paper, button, error) {
  button.disabled = true;
  error.textContent = '';
  try {
    const attempt = await api('POST', '/api/attempts', { paper_id: paper.id });
    location.href = `/static/exam.html?attempt=${attempt.attempt_id}`;
  } catch (err) {
    error.textContent = err.message;
    button.disabled = false;
  }
}

// Seed "考前该做哪些准备" (rule D7) and the exam rules, confirmed before a start.
const PREPARATION = [
  t('papers.s6'),
  t('papers.s7'),
  t('papers.s8'),
  t('papers.s9'),
];
const RULES = [
  t('papers.s10'),
  t('papers.s11'),
  t('papers.s12'),
];

function confirmPanel(paper, error) {
  const agree = el('input', { type: 'checkbox', testid: `paper-agree-${paper.kind}` });
  const go = el('button', { type: 'button', testid: `paper-confirm-${paper.kind}`, disabled: true }, t('papers.paper-confirm'));
  agree.addEventListener('change', () => { go.disabled = !agree.checked; });
  go.addEventListener('click', () => start(paper, go, error));
  const panel = el('div', { class: 'lock-reason', testid: `paper-prepare-${paper.kind}`, hidden: true },
    el('strong', {}, t('papers.s14')),
    el('ol', {}, PREPARATION.map((item) => el('li', {}, item))),
    el('strong', {}, paper.kind === 'formal' ? t('papers.s15') : t('papers.s16')),
    el('ul', {}, RULES.map((item) => el('li', {}, item))),
    el('label', {}, agree, t('papers.s17')),
    go, ' ',
    el('button', { type: 'button', class: 'secondary', onclick: () => { panel.hidden = true; } }, t('papers.s18')));
  return panel;
}

function card(paper) {
  const error = el('p', { class: 'error', testid: `paper-error-${paper.kind}` });
  const actions = [];
  if (paper.state === 'resume') {
    const button = el('button', { type: 'button', testid: `paper-start-${paper.kind}` }, t('records.s19'));
    button.addEventListener('click', () => start(paper, button, error));
    actions.push(button);
  } else if (paper.state === 'open') {
    const panel = confirmPanel(paper, error);
    const button = el('button', { type: 'button', testid: `paper-start-${paper.kind}` }, t('papers.s20'));
    button.addEventListener('click', () => { panel.hidden = false; });
    actions.push(button, panel);
  } else {
    actions.push(el('p', { class: 'lock-reason', testid: `paper-locked-reason-${paper.kind}` },
      paper.state === 'locked' ? '🔒 ' : '', paper.message));
  }
  const last = paper.last_score === null ? null
    : el('p', { class: 'meta', testid: `paper-last-${paper.kind}` },
      t('papers.s21', { last_score: paper.last_score, v: t('score.scale'), last_outcome_label: paper.last_outcome_label }));
  return el('article', {
    class: `paper-card ${paper.state}`, testid: `paper-${paper.kind}`,
    'data-state': paper.state, 'data-paper-id': paper.id,
  },
  el('h3', {}, el('span', { class: `badge ${paper.kind}` }, paper.kind_label), paper.title),
  el('p', { class: 'meta' }, t('papers.s22', { class_name: paper.class_name, question_count: paper.question_count, total_points: paper.total_points, v: t('score.scale'), v2: minutes(paper.time_limit_s) })),
  el('p', { class: 'meta' }, windowText(paper)),
  last, ...actions, error);
}

// Fill ``root`` with the paper center; ``grouped`` shows one block per class (班级试卷).
export async function mountPapers(root, { grouped = false } = {}) {
  root.replaceChildren(el('p', { class: 'status' }, t('papers.s23')));
  let data;
  try {
    data = await api('GET', '/api/papers');
  } catch (err) {
    root.replaceChildren(el('p', { class: 'error', testid: 'papers-error' }, err.message));
    return;
  }
  const heading = el('h2', {}, grouped ? t('papers.s24') : t('papers.s25'));
  if (!data.visible || data.papers.length === 0) {
    // rule C3: nothing before approval — say why
    root.replaceChildren(heading, el('p', { class: 'status', testid: 'papers-hidden' }, data.message));
    return;
  }
  const blocks = [];
  if (grouped) {
    const byClass = new Map();
    for (const paper of data.papers) {
      if (!byClass.has(paper.class_name)) byClass.set(paper.class_name, []);
      byClass.get(paper.class_name).push(paper);
    }
    for (const [name, papers] of byClass) {
      blocks.push(el('h3', {}, name), el('div', { class: 'paper-list' }, papers.map(card)));
    }
  } else {
    blocks.push(el('div', { class: 'paper-list', testid: 'paper-list' }, data.papers.map(card)));
  }
  root.replaceChildren(heading,
    el('p', { class: 'status' }, t('papers.s26')),
    ...blocks);
}
