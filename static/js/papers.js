// Paper center (rules C1–C3): the candidate's papers, the mock open, the formal
// locked until the mock is submitted — with the reason, in Chinese.
// Used by home.html (section#papers) and class-papers.html (考试中心 → 班级试卷).
import { api } from './api.js';
import { el } from './dom.js';
import { t } from './i18n.js';

function minutes(seconds) { return `${Math.round(seconds / 60)} 分钟`; }

function when(iso) {
  if (!iso) return null;
  return new Date(iso).toLocaleString('zh-CN', { timeZone: 'Asia/Shanghai', hour12: false });
}

function windowText(paper) {
  const opens = when(paper.opens_at);
  const closes = when(paper.closes_at);
  if (opens && closes) return `开放时间：${opens} 至 ${closes}`;
  if (opens) return `开放时间：${opens} 起`;
  if (closes) return `截止时间：${closes}`;
  return '开放时间：不限';
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
  '手机电量准备：将手机电量充满，或连接充电宝保持供电，确保考试过程中不会因电量不足中断。',
  '手机屏幕设置：关闭低电量模式，关闭屏幕自动休眠，保持屏幕常亮。',
  '电脑硬件检查：确认电脑已配备摄像头，外接摄像头需提前连接并确保正常。',
  '电脑软件授权：在杀毒/安全软件中允许浏览器访问电脑摄像头（建议考试期间退出安全软件）。',
];
const RULES = [
  '考试要求双路视频监控：电脑摄像头和手机小程序摄像同时开启后才可以答题，考试中会随机双路抓拍。',
  '考试中不允许切屏或点击试卷以外的内容，满 5 次系统将自动交卷。',
  '到达考试时间后系统自动交卷；答案在作答时即时保存。',
];

function confirmPanel(paper, error) {
  const agree = el('input', { type: 'checkbox', testid: `paper-agree-${paper.kind}` });
  const go = el('button', { type: 'button', testid: `paper-confirm-${paper.kind}`, disabled: true }, '确定考试');
  agree.addEventListener('change', () => { go.disabled = !agree.checked; });
  go.addEventListener('click', () => start(paper, go, error));
  const panel = el('div', { class: 'lock-reason', testid: `paper-prepare-${paper.kind}`, hidden: true },
    el('strong', {}, '考前准备'),
    el('ol', {}, PREPARATION.map((item) => el('li', {}, item))),
    el('strong', {}, paper.kind === 'formal' ? '正式考试说明（只能在电脑端答题）' : '模拟考试说明（用于调试电脑摄像头和熟悉手机摄像步骤）'),
    el('ul', {}, RULES.map((item) => el('li', {}, item))),
    el('label', {}, agree, ' 我已完成考前准备，并了解考试规则'),
    go, ' ',
    el('button', { type: 'button', class: 'secondary', onclick: () => { panel.hidden = true; } }, '取消'));
  return panel;
}

function card(paper) {
  const error = el('p', { class: 'error', testid: `paper-error-${paper.kind}` });
  const actions = [];
  if (paper.state === 'resume') {
    const button = el('button', { type: 'button', testid: `paper-start-${paper.kind}` }, '继续考试');
    button.addEventListener('click', () => start(paper, button, error));
    actions.push(button);
  } else if (paper.state === 'open') {
    const panel = confirmPanel(paper, error);
    const button = el('button', { type: 'button', testid: `paper-start-${paper.kind}` }, '开始考试');
    button.addEventListener('click', () => { panel.hidden = false; });
    actions.push(button, panel);
  } else {
    actions.push(el('p', { class: 'lock-reason', testid: `paper-locked-reason-${paper.kind}` },
      paper.state === 'locked' ? '🔒 ' : '', paper.message));
  }
  const last = paper.last_score === null ? null
    : el('p', { class: 'meta', testid: `paper-last-${paper.kind}` },
      `最近成绩：${paper.last_score} 分（${t('score.scale')}；${paper.last_outcome_label}）`);
  return el('article', {
    class: `paper-card ${paper.state}`, testid: `paper-${paper.kind}`,
    'data-state': paper.state, 'data-paper-id': paper.id,
  },
  el('h3', {}, el('span', { class: `badge ${paper.kind}` }, paper.kind_label), paper.title),
  el('p', { class: 'meta' }, `${paper.class_name} · ${paper.question_count} 题 · 卷面 ${paper.total_points} 分，成绩折算为${t('score.scale')} · 时长 ${minutes(paper.time_limit_s)}`),
  el('p', { class: 'meta' }, windowText(paper)),
  last, ...actions, error);
}

// Fill ``root`` with the paper center; ``grouped`` shows one block per class (班级试卷).
export async function mountPapers(root, { grouped = false } = {}) {
  root.replaceChildren(el('p', { class: 'status' }, '正在加载试卷…'));
  let data;
  try {
    data = await api('GET', '/api/papers');
  } catch (err) {
    root.replaceChildren(el('p', { class: 'error', testid: 'papers-error' }, err.message));
    return;
  }
  const heading = el('h2', {}, grouped ? '班级试卷' : '试卷中心');
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
    el('p', { class: 'status' }, '★ 正式考试之前请先完成模拟考试：模拟试卷提交后才可以开始正式考试。'),
    ...blocks);
}
