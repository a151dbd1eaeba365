// Where a page may send the browser after signing in (issue #9: no open redirect).
// Browsers drop tabs and newlines inside URLs and read '\' as '/', so "/\t/evil",
// "/\evil" and "//evil" all leave the site. Only a path of this site is kept:
// one '/', then a plain path character, no control, space or backslash anywhere,
// and the resolved URL must still have this page's origin.
const FIRST = /^\/[A-Za-z0-9._~-]/;
const HIDDEN = /[\u0000-\u0020\u007f-\u009f\u2028\u2029\\]/;

export function safeNext(next, origin) {
  if (typeof next !== 'string' || !FIRST.test(next) || HIDDEN.test(next)) return null;
  let url;
  try { url = new URL(next, origin); } catch { return null; }
  return url.origin === origin ? url.pathname + url.search + url.hash : null;
}
