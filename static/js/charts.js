// @ts-check
// Small charts drawn as inline SVG (issue #14: pictures where people would
// rather look than read), no library and no build step. Colours are SVG
// presentation attributes, never style attributes (the CSP forbids those).
// Every chart is an image with a text alternative, and every bar carries its
// figure as text, so nothing is told by colour alone.

import { t } from './i18n.js';

const SVG = 'http://www.w3.org/2000/svg';
const BAR = '#2563eb';
const TEXT = '#1f2937';
const GRID = '#d1d5db';

/**
 * @param {string} tag
 * @param {Record<string, string | number>} attrs
 * @param {(Node | string)[]} children
 */
function svg(tag, attrs = {}, ...children) {
  const node = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key === 'testid') node.setAttribute('data-testid', String(value));
    else node.setAttribute(key, String(value));
  }
  for (const child of children) node.append(child);
  return node;
}

/**
 * A vertical bar chart: one bar per ``bars`` entry, its value above it and
 * its label below. Bars are ``<testid>-bar-<i>`` with ``data-value``.
 * @param {{testid: string, title: string, bars: {label: string, value: number, color?: string}[], unit?: string}} chart
 * @returns {SVGSVGElement}
 */
export function barChart({ testid, title, bars, unit = '' }) {
  // a slot wide enough for its label (12 px characters), so labels never overlap
  const slot = Math.max(56, 12 * Math.max(0, ...bars.map((b) => b.label.length)) + 16);
  const plot = 150;   // the bars' height at the largest value
  const top = 24;
  const width = Math.max(bars.length * slot + 16, 200);
  const height = top + plot + 44;
  const max = Math.max(1, ...bars.map((b) => b.value));
  const text = bars.map((b) => t('chart.bar', { label: b.label, value: b.value, unit })).join(t('chart.join'));
  const alt = t('chart.alt', { title, text });
  const chart = /** @type {SVGSVGElement} */ (svg('svg', {
    testid, viewBox: `0 0 ${width} ${height}`, width, height, role: 'img', 'aria-label': alt, class: 'chart',
  }, svg('title', {}, alt)));
  chart.append(svg('line', { x1: 8, x2: width - 8, y1: top + plot, y2: top + plot, stroke: GRID }));
  bars.forEach((b, i) => {
    const h = Math.round((plot * b.value) / max);
    const x = 8 + i * slot + (slot - 40) / 2;
    const middle = 8 + i * slot + slot / 2;
    chart.append(
      svg('rect', { testid: `${testid}-bar-${i}`, 'data-value': b.value, x, y: top + plot - h, width: 40, height: h, fill: b.color ?? BAR }),
      svg('text', { testid: `${testid}-value-${i}`, x: middle, y: top + plot - h - 6, 'text-anchor': 'middle', fill: TEXT, 'font-size': 13 }, `${b.value}${unit}`),
      svg('text', { testid: `${testid}-label-${i}`, x: middle, y: top + plot + 18, 'text-anchor': 'middle', fill: TEXT, 'font-size': 12 }, b.label),
    );
  });
  return chart;
}

/**
 * A share as one horizontal bar (the pass rate): the filled part and its
 * percent, the pass mark named beside it.
 * @param {{testid: string, title: string, share: number | null, caption: string}} chart
 * @returns {SVGSVGElement}
 */
export function shareBar({ testid, title, share, caption }) {
  const width = 420;
  const percent = share === null ? null : Math.round(share * 1000) / 10;
  const label = percent === null ? '—' : `${percent}%`;
  const filled = percent === null ? 0 : Math.round((width - 16) * (percent / 100));
  const alt = t('chart.share', { title, label, caption });
  const chart = /** @type {SVGSVGElement} */ (svg('svg', {
    testid, viewBox: `0 0 ${width} 70`, width, height: 70, role: 'img', 'aria-label': alt, class: 'chart',
  }, svg('title', {}, alt)));
  chart.append(
    svg('rect', { x: 8, y: 8, width: width - 16, height: 28, fill: '#e5e7eb' }),
    svg('rect', { testid: `${testid}-fill`, 'data-value': percent ?? '', x: 8, y: 8, width: filled, height: 28, fill: '#15803d' }),
    svg('text', { testid: `${testid}-value`, x: 16, y: 28, fill: percent !== null && percent >= 20 ? '#ffffff' : TEXT, 'font-size': 14, 'font-weight': 'bold' }, label),
    svg('text', { x: 8, y: 60, fill: TEXT, 'font-size': 13 }, caption),
  );
  return chart;
}
