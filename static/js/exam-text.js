// The exam page's text from the catalogue (i18n.js): the catalogue's own t(),
// {name} placeholders filled, under the name the exam page's modules use.
import { t } from './i18n.js';

/** @param {string} key @param {Record<string, unknown>} [vars] */
export function tx(key, vars) {
  return t(key, vars && Object.fromEntries(Object.entries(vars).map(([k, v]) => [k, String(v)])));
}
