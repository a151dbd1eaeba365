// Small fetch wrapper: JSON in and out, the CSRF header on state changes,
// and errors as {status, code, message} with the server's readable message.
let csrfToken = null;

export function setCsrfToken(token) { csrfToken = token; }
export function csrf() { return csrfToken; }

export class ApiError extends Error {
  constructor(status, code, message, retryAfterS = null) {
    super(message); this.status = status; this.code = code; this.retryAfterS = retryAfterS;
  }
}

export async function api(method, path, body) {
  const headers = { 'Accept': 'application/json' };
  const init = { method, headers, credentials: 'same-origin' };
  if (body !== undefined) {
    if (body instanceof FormData || body instanceof Blob) { init.body = body; }
    else { headers['Content-Type'] = 'application/json'; init.body = JSON.stringify(body); }
  }
  if (method !== 'GET' && csrfToken) headers['X-CSRF-Token'] = csrfToken;
  const res = await fetch(path, init);
  const text = await res.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { data = { message: text }; }
  if (!res.ok) {
    throw new ApiError(res.status, (data && data.error) || 'http_' + res.status,
                       (data && data.message) || res.statusText,
                       (data && Number.isInteger(data.retry_after_s)) ? data.retry_after_s : null);
  }
  if (data && data.csrf_token) setCsrfToken(data.csrf_token);
  return data;
}
