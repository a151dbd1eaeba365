// The province's single sign-on (蒙速办) on the login page, beside the
// built-in form: shown only when the server has an OpenID provider configured.
import { api } from './api.js';
import { byTestId } from './dom.js';

const box = byTestId('sso-box');
const sso = await api('GET', '/api/auth/oidc/config').catch(() => ({ enabled: false }));
if (sso.enabled) {
  const link = byTestId('sso-login');
  const next = new URLSearchParams(location.search).get('next');
  // the server keeps only a same-site path (exam_api/oidc.py safe_next)
  link.href = next ? `${sso.start}?${new URLSearchParams({ next })}` : sso.start;
  link.textContent = sso.label;
  box.hidden = false;
}
