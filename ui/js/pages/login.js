// Log in with a token, userpass or AppRole. A token the UI obtained by
// logging in is revoked on log out; a pasted token is only forgotten.

import { api, enc, setToken } from '../api.js';
import { h, put, field, input, messages, form } from '../dom.js';

export const title = 'Log in';

const METHODS = [
  ['token', 'Token'],
  ['userpass', 'Username & password'],
  ['approle', 'AppRole'],
];

export async function render(root, { params, go }) {
  const msg = messages();
  const tabs = h('div', { role: 'tablist', 'aria-label': 'Login method', class: 'tabs' });
  const panel = h('div', { role: 'tabpanel', id: 'login-panel' });
  put(root, h('h1', {}, 'Log in'), msg.el, tabs, panel);
  const next = params.get('next');

  function done(token, byUs) {
    setToken(token, byUs);
    go(next && next.startsWith('#/') && !next.startsWith('#/login') ? next : '#/secrets');
  }

  function show(method) {
    msg.clear();
    put(tabs, METHODS.map(([m, label]) => {
      const b = h('button', {
        type: 'button', role: 'tab', id: `tab-${m}`, 'aria-selected': String(m === method),
        'aria-controls': 'login-panel', tabindex: m === method ? '0' : '-1',
        onclick: () => show(m),
      }, label);
      b.addEventListener('keydown', (ev) => {
        const i = METHODS.findIndex(([x]) => x === m);
        let j = null;
        if (ev.key === 'ArrowRight') j = (i + 1) % METHODS.length;
        if (ev.key === 'ArrowLeft') j = (i + METHODS.length - 1) % METHODS.length;
        if (j !== null) {
          ev.preventDefault();
          show(METHODS[j][0]);
          document.getElementById(`tab-${METHODS[j][0]}`).focus();
        }
      });
      return b;
    }));
    panel.setAttribute('aria-labelledby', `tab-${method}`);
    put(panel, ({ token: tokenForm, userpass: userpassForm, approle: approleForm })[method]());
  }

  function tokenForm() {
    const t = input({ type: 'password', id: 'login-token' });
    return form({ 'aria-label': 'Token login' }, [
      field('Token', t),
      h('button', { type: 'submit' }, 'Log in'),
    ], async () => {
      const value = t.value.trim();
      if (!value) throw new Error('Enter a token.');
      // check it before keeping it
      const r = await fetchSelf(value);
      t.value = '';
      if (r) done(value, false);
    }, msg);
  }

  function userpassForm() {
    const mount = input({ value: 'userpass', id: 'login-up-mount' });
    const user = input({ id: 'login-username', autocomplete: 'username' });
    const pass = input({ type: 'password', id: 'login-password', autocomplete: 'current-password' });
    return form({ 'aria-label': 'Userpass login' }, [
      field('Username', user), field('Password', pass), field('Mount path', mount),
      h('button', { type: 'submit' }, 'Log in'),
    ], async () => {
      const r = await api('POST', `auth/${enc(mount.value.trim().replace(/^\/|\/$/g, ''))}/login/${enc(user.value.trim())}`,
        { password: pass.value }, { noToken: true });
      pass.value = '';
      done(r.auth.client_token, true);
    }, msg);
  }

  function approleForm() {
    const mount = input({ value: 'approle', id: 'login-ar-mount' });
    const role = input({ id: 'login-role-id' });
    const secret = input({ type: 'password', id: 'login-secret-id' });
    return form({ 'aria-label': 'AppRole login' }, [
      field('Role ID', role), field('Secret ID', secret, 'Leave empty for a role without secret IDs.'),
      field('Mount path', mount),
      h('button', { type: 'submit' }, 'Log in'),
    ], async () => {
      const body = { role_id: role.value.trim() };
      if (secret.value) body.secret_id = secret.value;
      const r = await api('POST', `auth/${enc(mount.value.trim().replace(/^\/|\/$/g, ''))}/login`, body, { noToken: true });
      secret.value = '';
      done(r.auth.client_token, true);
    }, msg);
  }

  show('token');
  return () => put(root);
}

/** lookup-self with a token not kept yet. */
async function fetchSelf(token) {
  const resp = await fetch('/v1/auth/token/lookup-self', {
    headers: { 'X-Vault-Token': token, 'X-Vault-Request': 'true' },
    cache: 'no-store', credentials: 'omit', referrerPolicy: 'no-referrer',
  });
  if (!resp.ok) {
    let errors = [];
    try {
      errors = (await resp.json()).errors || [];
    } catch {
      errors = [];
    }
    const e = new Error(errors.join('; ') || `the token was refused (HTTP ${resp.status})`);
    e.errors = errors.length ? errors : [e.message];
    throw e;
  }
  return resp.json();
}
