// The exam page's text from the catalogue (i18n.js, keys "exam.…"), with
// {name} placeholders filled in: one place to review the wording.
import { t } from './i18n.js';

/** @param {string} key @param {Record<string, unknown>} [vars] */
export function tx(key, vars = {}) {
  return t(key).replace(/\{(\w+)\}/g, (whole, name) => (name in vars ? String(vars[name]) : whole));
}
