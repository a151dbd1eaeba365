// Pages of signed-in users: fetch the session (and its CSRF token); send the
// visitor to the login page when there is none.
import { api } from './api.js';

// The page's header gets the user's name and a working 退出 (issue #14: every
// signed-in page has one; a session begun at the province's SSO ends there too).
export async function signedIn() {
  try {
    const me = await api('GET', '/api/auth/me');
    header(me.user);
    return me.user;
  } catch (err) {
    if (err.status === 401) {
      location.href = `/static/login.html?next=${encodeURIComponent(location.pathname + location.search)}`;
      return new Promise(() => {});   // navigating away
    }
    throw err;
  }
}

function header(user) {
  const name = document.querySelector('[data-testid="user-name"]');
  if (name) name.textContent = user.real_name || user.username;
  const logout = document.querySelector('[data-testid="logout"]');
  if (logout) logout.addEventListener('click', logOut);
}

async function logOut() {
  const data = await api('POST', '/api/auth/logout').catch(() => ({}));
  location.href = (data && data.end_session) || '/static/login.html';
}
