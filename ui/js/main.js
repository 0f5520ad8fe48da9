// The shell: navigation by the URL fragment (#/page/...), who is logged
// in, and one page at a time. Leaving a page runs its cleanup, which
// forgets any secret it showed and stops any polling.

import { api, getToken, logout, onTokenChange } from './api.js';
import { h, put } from './dom.js';
import * as status from './pages/status.js';
import * as login from './pages/login.js';
import * as secrets from './pages/secrets.js';
import * as apikeys from './pages/apikeys.js';
import * as policies from './pages/policies.js';
import * as tokens from './pages/tokens.js';
import * as audit from './pages/audit.js';

const PAGES = { status, login, secrets, apikeys, policies, tokens, audit };
const NEEDS_TOKEN = new Set(['secrets', 'apikeys', 'policies', 'tokens', 'audit']);

const main = document.getElementById('main');
let cleanup = null;
let rendering = 0;

function parse() {
  const raw = location.hash.replace(/^#\/?/, '');
  const [path, qs] = raw.split('?');
  const parts = path.split('/');
  const name = PAGES[parts[0]] ? parts[0] : 'status';
  const rest = parts.slice(1).map((p) => {
    try {
      return decodeURIComponent(p);
    } catch {
      return p;
    }
  });
  return { name, rest, params: new URLSearchParams(qs || '') };
}

export function go(hash) {
  if (location.hash === hash) route();
  else location.hash = hash;
}

async function route() {
  const ticket = ++rendering;
  if (cleanup) {
    try {
      cleanup();
    } catch {
      // a page that cannot clean up must not block the next
    }
    cleanup = null;
  }
  let { name, rest, params } = parse();
  if (NEEDS_TOKEN.has(name) && !getToken()) {
    params = new URLSearchParams({ next: location.hash });
    name = 'login';
    rest = [];
  }
  for (const a of document.querySelectorAll('#nav a')) {
    if (a.dataset.page === name) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  const page = PAGES[name];
  const root = h('div', { class: `page page-${name}` });
  put(main, root);
  document.title = `${page.title} · vault-rs`;
  try {
    const done = await page.render(root, { rest, params, go });
    if (ticket !== rendering) {
      if (typeof done === 'function') done();
      return;
    }
    cleanup = typeof done === 'function' ? done : null;
  } catch (e) {
    put(root, h('div', { class: 'msg error', role: 'alert' }, String(e && e.message ? e.message : e)));
  }
  if (ticket === rendering) main.focus({ preventScroll: true });
}

async function showWho() {
  const who = document.getElementById('who');
  if (!getToken()) {
    put(who, h('a', { href: '#/login', class: 'button' }, 'Log in'));
    return;
  }
  put(who, h('span', { class: 'muted' }, 'Logged in'));
  try {
    const r = await api('GET', 'auth/token/lookup-self');
    const d = r.data || {};
    put(who,
      h('span', { class: 'name', title: (d.policies || []).join(', ') }, d.display_name || 'token'),
      h('button', { type: 'button', class: 'secondary', onclick: doLogout }, 'Log out'));
  } catch {
    put(who,
      h('span', { class: 'muted' }, 'Token not usable'),
      h('button', { type: 'button', class: 'secondary', onclick: doLogout }, 'Log out'));
  }
}

async function doLogout() {
  await logout();
  go('#/login');
}

onTokenChange(() => {
  showWho();
});

window.addEventListener('hashchange', route);
// leaving the page: secrets on screen are dropped with it
window.addEventListener('pagehide', () => {
  if (cleanup) cleanup();
  cleanup = null;
  put(main);
});

showWho();
route();
