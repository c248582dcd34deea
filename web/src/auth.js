// Session and JSON requests for the catalog API (docs/catalog.md): login/logout/me, the CSRF
// token sent on every write, and one request helper that turns error answers into ApiError
// (with the per-field `errors` of a 422 and the Retry-After of a 429).
import { ApiError } from './api.js';

// The session cookie is HttpOnly, so the page cannot see whether one exists. This flag remembers
// that we logged in from this browser, so the dashboard only asks /auth/me when a session is
// likely (an unconditional 401 on the open dashboard would only be noise).
const FLAG = 'dashdot.session';

export const session = {
  user: null, // {id, name, role, ...}
  role: null,
  csrf: null,
  checked: false, // /auth/me answered since the page loaded
};

const listeners = new Set();
export function onSessionChange(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}
function changed() {
  for (const fn of listeners) fn(session);
}

function remember(on) {
  try {
    if (on) localStorage.setItem(FLAG, '1');
    else localStorage.removeItem(FLAG);
  } catch {
    /* storage disabled: the dashboard just won't show the user name before Settings is opened */
  }
}

export function maybeLoggedIn() {
  try {
    return localStorage.getItem(FLAG) === '1';
  } catch {
    return false;
  }
}

function setSession(data) {
  const user = (data && data.user) || null;
  session.user = user;
  session.role = (data && data.role) || (user && user.role) || null;
  if (data && data.csrf) session.csrf = data.csrf;
  session.checked = true;
  remember(!!user);
  changed();
}

export function clearSession() {
  session.user = null;
  session.role = null;
  session.csrf = null;
  session.checked = true;
  remember(false);
  changed();
}

const WRITES = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

// request('GET', '/api/v1/device?limit=10') -> {status, body, data, etag, headers}
// Throws ApiError on network failure and on any answer other than 2xx; err.body is the parsed
// answer, err.errors the field errors of a 422, err.retryAfter the seconds of a 429.
export async function request(method, path, body, opts = {}) {
  const headers = { Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (WRITES.has(method) && session.csrf) headers['X-CSRF-Token'] = session.csrf;
  if (opts.ifMatch != null) headers['If-Match'] = opts.ifMatch;
  let res;
  try {
    res = await fetch(path, {
      method,
      headers,
      credentials: 'same-origin',
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: opts.signal,
    });
  } catch (e) {
    if (e.name === 'AbortError') throw e;
    throw new ApiError(`cannot reach the server (${e.message})`, 0, 'network');
  }
  let parsed = null;
  if (res.status !== 204) {
    const text = await res.text();
    if (text) {
      try {
        parsed = JSON.parse(text);
      } catch {
        parsed = null;
      }
    }
  }
  if (!res.ok || (parsed && parsed.status === 'error')) {
    let msg = parsed && parsed.error ? parsed.error : `HTTP ${res.status} ${res.statusText}`.trim();
    if (res.status === 401 && !(parsed && parsed.error)) msg = 'not logged in';
    const err = new ApiError(msg, res.status, parsed && parsed.errorType);
    err.body = parsed;
    err.errors = (parsed && parsed.errors) || null;
    const ra = Number(res.headers.get('Retry-After'));
    err.retryAfter = Number.isFinite(ra) && ra > 0 ? Math.ceil(ra) : null;
    if (res.status === 401 && !opts.noSessionReset && session.user) clearSession();
    throw err;
  }
  return {
    status: res.status,
    body: parsed,
    data: parsed ? parsed.data : null,
    etag: res.headers.get('ETag'),
    headers: res.headers,
  };
}

// GET /api/v1/auth/me: true when logged in (session, csrf and role are set), false on 401.
export async function loadMe() {
  try {
    const r = await request('GET', '/api/v1/auth/me', undefined, { noSessionReset: true });
    setSession(r.data);
    return true;
  } catch (e) {
    if (e.status === 401) {
      clearSession();
      return false;
    }
    throw e;
  }
}

export async function login(username, password) {
  const r = await request('POST', '/api/v1/auth/login', { username, password }, { noSessionReset: true });
  setSession(r.data);
  return r.data;
}

export async function logout() {
  try {
    await request('POST', '/api/v1/auth/logout', {}, { noSessionReset: true });
  } finally {
    clearSession();
  }
}

const RANK = { viewer: 1, editor: 2, admin: 3 };

// Whether the logged-in user's role reaches `need` (viewer < editor < admin).
export function roleAtLeast(need) {
  const have = RANK[session.role] || 0;
  return have > 0 && have >= (RANK[need] || RANK.admin);
}
