// Pages of signed-in users: fetch the session (and its CSRF token); send the
// visitor to the login page when there is none.
import { api } from './api.js';

export async function signedIn() {
  try {
    const me = await api('GET', '/api/auth/me');
    return me.user;
  } catch (err) {
    if (err.status === 401) {
      location.href = `/static/login.html?next=${encodeURIComponent(location.pathname + location.search)}`;
      return new Promise(() => {});   // navigating away
    }
    throw err;
  }
}
