// The API client: every call is an ordinary, authenticated, audited
// request to /v1/. The token lives in this tab's sessionStorage (and
// memory) only: never in a URL, a cookie or localStorage.

const TOKEN = 'vault-rs.token';
const CREATED = 'vault-rs.token-created';

let token = null;
let created = false;
try {
  token = sessionStorage.getItem(TOKEN);
  created = sessionStorage.getItem(CREATED) === '1';
} catch {
  token = null;
}

const listeners = new Set();

/** Called with the new token (or null) whenever it changes. */
export function onTokenChange(fn) {
  listeners.add(fn);
}

export function getToken() {
  return token;
}

/**
 * Keeps `t` for this tab. `byUs`: the UI logged in to get it (so logging
 * out revokes it); a token the user pasted is only forgotten.
 */
export function setToken(t, byUs) {
  token = t;
  created = !!byUs;
  try {
    sessionStorage.setItem(TOKEN, t);
    sessionStorage.setItem(CREATED, created ? '1' : '0');
  } catch {
    // memory only
  }
  listeners.forEach((fn) => fn(token));
}

/** Forgets the token (revoking it first if the UI created it). */
export async function logout() {
  if (token && created) {
    try {
      await api('POST', 'auth/token/revoke-self');
    } catch {
      // already gone: forget it anyway
    }
  }
  token = null;
  created = false;
  try {
    sessionStorage.removeItem(TOKEN);
    sessionStorage.removeItem(CREATED);
  } catch {
    // nothing kept
  }
  listeners.forEach((fn) => fn(null));
}

/** An API refusal: the status and the API's `errors`. */
export class ApiError extends Error {
  constructor(status, errors) {
    super(errors.length ? errors.join('; ') : `request failed (${status})`);
    this.status = status;
    this.errors = errors.length ? errors : [`request failed (HTTP ${status})`];
  }
}

/** Path segments escaped for a URL, slashes kept. */
export function enc(path) {
  return String(path).split('/').map(encodeURIComponent).join('/');
}

/**
 * method: GET, LIST, POST, PUT, PATCH, DELETE. `path` is relative to /v1/
 * and already escaped (see `enc`). Returns the JSON body (null for 204).
 */
export async function api(method, path, body, opts = {}) {
  const headers = { 'X-Vault-Request': 'true' };
  if (token && !opts.noToken) headers['X-Vault-Token'] = token;
  let url = `/v1/${path}`;
  let m = method;
  if (method === 'LIST') {
    m = 'GET';
    url += (url.includes('?') ? '&' : '?') + 'list=true';
  }
  const init = {
    method: m,
    headers,
    cache: 'no-store',
    credentials: 'omit',
    referrerPolicy: 'no-referrer',
    redirect: 'error',
  };
  if (body !== undefined) {
    headers['Content-Type'] = method === 'PATCH' ? 'application/merge-patch+json' : 'application/json';
    init.body = JSON.stringify(body);
  }
  let resp;
  try {
    resp = await fetch(url, init);
  } catch {
    throw new ApiError(0, ['cannot reach the server']);
  }
  if (resp.status === 204) return null;
  let json = null;
  const text = await resp.text();
  if (text) {
    try {
      json = JSON.parse(text);
    } catch {
      json = null;
    }
  }
  if (!resp.ok) {
    const errors = json && Array.isArray(json.errors) ? json.errors.map(String) : [];
    throw new ApiError(resp.status, errors);
  }
  return json;
}

/** A query string from an object, leaving out empty values. */
export function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v !== undefined && v !== null && String(v).trim() !== '') q.set(k, String(v).trim());
  }
  const s = q.toString();
  return s ? `?${s}` : '';
}
