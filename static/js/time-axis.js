// @ts-check
// The labelled time axis under the evidence timeline (issue #14): ticks at
// round minutes since the start, each with its Beijing clock time (rule H5:
// the reviewer reads when, not only in what order). Pure: no DOM.

const STEPS_MIN = [1, 2, 5, 10, 15, 20, 30, 60, 120, 240];
const MAX_TICKS = 8;  // more labels than this overlap on a narrow screen

/** HH:MM in Beijing time, the exam's clock. */
export function hhmm(t) {
  return new Date(t * 1000).toLocaleTimeString('zh-CN', { timeZone: 'Asia/Shanghai', hour12: false, hour: '2-digit', minute: '2-digit' });
}

/** The step in minutes for an axis spanning ``spanS`` seconds. */
export function tickStep(spanS) {
  const span = spanS / 60;
  return STEPS_MIN.find((step) => span / step <= MAX_TICKS) ?? STEPS_MIN[STEPS_MIN.length - 1];
}

/**
 * Ticks from ``start`` to ``end`` (seconds): every ``step`` minutes since the
 * start, the start itself included.
 * @returns {{t: number, minute: number, clock: string, at: number}[]} ``at`` is the place on the axis, 0..1
 */
export function axisTicks(start, end) {
  const step = tickStep(end - start);
  const ticks = [];
  for (let minute = 0; start + minute * 60 <= end; minute += step) {
    const t = start + minute * 60;
    ticks.push({ t, minute, clock: hhmm(t), at: (t - start) / (end - start) });
  }
  return ticks;
}
