// @ts-check
// The administrator's results of a sitting (场次) or a class, in pictures
// (issue #14): score distribution, pass rate, violations by kind, outages.
// The figures are the server's (GET /api/admin/results/…); this page draws.
import { api } from './api.js';
import { barChart, shareBar } from './charts.js';
import { byTestId, el, setError } from './dom.js';
import { t } from './i18n.js';
import { signedIn } from './page-session.js';

const DECIDED = '#15803d';

function option(value, text) { return el('option', { value }, text); }

function totalsRows(totals) {
  const rate = totals.pass_rate === null ? '—' : `${Math.round(totals.pass_rate * 1000) / 10}%`;
  return [
    ['attempts', t('results.totals.attempts'), t('results.totals.attempts_value', { n: totals.attempts, people: totals.candidates })],
    ['average', t('results.totals.average'), totals.average === null ? '—' : t('results.points', { n: totals.average })],
    ['pass', t('results.totals.pass'), t('results.totals.pass_value', { rate, n: totals.reached_pass_mark, scored: totals.scored })],
    ['outcomes', t('results.totals.outcomes'), t('results.totals.outcomes_value', { passed: totals.passed, failed: totals.failed, review: totals.under_review })],
  ];
}

function draw(data) {
  const s = data.scope;
  byTestId('results-title').textContent = s.kind === 'sitting'
    ? t('results.title.sitting', { title: s.title, paper: s.paper_title, klass: s.class_name })
    : t('results.title.class', { title: s.title });
  byTestId('results-totals').replaceChildren(...totalsRows(data.totals).flatMap(([id, k, v]) => [el('dt', {}, k), el('dd', { testid: `results-${id}` }, v)]));
  byTestId('chart-scores-box').replaceChildren(barChart({
    testid: 'chart-scores', title: t('results.chart.scores'),
    bars: data.scores.map((b) => ({ label: b.to === 100 ? `${b.from}–100` : `${b.from}–${b.to - 1}`, value: b.count, color: b.from >= data.totals.pass_mark ? DECIDED : undefined })),
  }));
  byTestId('chart-pass-box').replaceChildren(shareBar({
    testid: 'chart-pass', title: t('results.totals.pass'), share: data.totals.pass_rate,
    caption: t('results.pass_caption', { mark: data.totals.pass_mark, n: data.totals.reached_pass_mark, scored: data.totals.scored }),
  }));
  byTestId('chart-violations-box').replaceChildren(data.violations.length
    ? barChart({ testid: 'chart-violations', title: t('results.chart.violations'), bars: data.violations.map((v) => ({ label: v.label, value: v.count })) })
    : el('p', { class: 'meta', testid: 'chart-violations-none' }, t('results.no_violations')));
  byTestId('chart-outages-box').replaceChildren(barChart({
    testid: 'chart-outages', title: t('results.chart.outages'), bars: data.outages.map((o) => ({ label: o.label, value: o.count })),
  }));
  byTestId('results-figures').hidden = false;
}

async function show(kind, id) {
  setError(byTestId('results-error'), '');
  if (!id) { byTestId('results-figures').hidden = true; return; }
  try {
    draw(await api('GET', `/api/admin/results/${kind === 'sitting' ? 'sittings' : 'classes'}/${id}`));
    history.replaceState(null, '', `?${kind}=${id}`);
  } catch (err) {
    setError(byTestId('results-error'), err.message);
  }
}

async function pickers() {
  const [sittings, classes] = await Promise.all([api('GET', '/api/admin/sittings'), api('GET', '/api/admin/classes')]);
  const sitting = byTestId('results-sitting');
  const klass = byTestId('results-class');
  sitting.replaceChildren(option('', t('results.pick.none')), ...sittings.sittings.map((x) => option(String(x.id), `${x.title} · ${x.paper_title}`)));
  klass.replaceChildren(option('', t('results.pick.none')), ...classes.classes.map((x) => option(String(x.id), x.name)));
  sitting.addEventListener('change', () => { klass.value = ''; show('sitting', sitting.value); });
  klass.addEventListener('change', () => { sitting.value = ''; show('class', klass.value); });
  const query = new URLSearchParams(location.search);
  if (/^\d+$/.test(query.get('sitting') ?? '')) { sitting.value = query.get('sitting'); await show('sitting', query.get('sitting')); }
  else if (/^\d+$/.test(query.get('class') ?? '')) { klass.value = query.get('class'); await show('class', query.get('class')); }
}

signedIn().then(pickers).catch((err) => setError(byTestId('results-error'), err.message));
