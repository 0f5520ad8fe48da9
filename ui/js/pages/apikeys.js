// Service API keys (the apikeys engine): keys per mount, their versions
// and rotation, rotate now, revoke. A key is shown once, when created or
// rotated, and forgotten when leaving the page.

import { api, enc } from '../api.js';
import { h, put, field, input, select, messages, table, facts, form, action, copy, when, duration } from '../dom.js';

export const title = 'API keys';

export async function render(root, { rest, go }) {
  const msg = messages();
  const body = h('div', {});
  put(root, msg.el, body);
  const forget = () => put(root);
  const mount = rest[0] || '';
  const name = rest.slice(1).join('/');
  if (!mount) await mounts();
  else if (!name) await keys(mount);
  else await key(mount, name);
  return forget;

  function crumbs(m, n) {
    return h('nav', { class: 'crumbs', 'aria-label': 'Breadcrumb' },
      h('a', { href: '#/apikeys' }, 'API keys'), ' / ',
      n ? h('a', { href: `#/apikeys/${enc(m)}` }, `${m}/`) : h('span', { 'aria-current': 'page' }, `${m}/`),
      n ? [' ', h('span', { 'aria-current': 'page' }, n)] : null);
  }

  async function mounts() {
    put(body, h('h1', {}, 'API key mounts'));
    let list = [];
    try {
      const r = await api('GET', 'sys/mounts');
      list = Object.entries(r.data || r).filter(([, m]) => m && m.type === 'apikeys').map(([p]) => p.replace(/\/$/, ''));
    } catch {
      list = ['apikeys'];
    }
    if (list.length === 1) {
      go(`#/apikeys/${enc(list[0])}`);
      return;
    }
    body.appendChild(list.length
      ? h('ul', { class: 'listing' }, list.map((p) => h('li', {}, h('a', { href: `#/apikeys/${enc(p)}` }, `${p}/`))))
      : h('p', { class: 'muted' }, 'No apikeys engine is mounted.'));
  }

  function shownOnce(data) {
    const code = h('code', { class: 'secret-text', id: 'new-key' }, data.key);
    return h('div', { class: 'once', role: 'status' },
      h('p', { class: 'warn' }, 'This key is shown once: store it now. It is not kept by this page.'),
      h('p', {}, `${data.name} v${data.version}: `, code),
      action('Copy', async () => {
        msg.ok((await copy(data.key)) ? 'Copied.' : 'The browser did not allow copying.');
      }, msg, { class: 'secondary' }),
      data.previous_valid_until
        ? h('p', { id: 'grace-note' }, `Version ${data.previous_version} stays valid until ${when(data.previous_valid_until)} (grace).`)
        : null);
  }

  async function keys(m) {
    const list = h('div', {});
    const once = h('div', {});
    put(body, crumbs(m), h('h1', {}, `Keys of ${m}/`), list, createForm(m, once), once);
    let names = [];
    try {
      names = ((await api('LIST', `${enc(m)}/keys`)).data || {}).keys || [];
    } catch (e) {
      if (e.status !== 404) msg.error(e);
    }
    put(list, names.length
      ? h('ul', { class: 'listing', id: 'key-list' }, names.map((n) => h('li', {}, h('a', { href: `#/apikeys/${enc(m)}/${enc(n)}` }, n))))
      : h('p', { class: 'muted' }, 'No keys yet.'));
  }

  function createForm(m, once) {
    const name = input({ id: 'key-name' });
    const service = input({ id: 'key-service' });
    const env = select([['live', 'live'], ['test', 'test']], { id: 'key-env' });
    const scopes = input({ id: 'key-scopes', placeholder: 'read, write' });
    const rotation = input({ id: 'key-rotation', placeholder: '720h' });
    const grace = input({ id: 'key-grace', placeholder: '24h' });
    const ttl = input({ id: 'key-ttl', placeholder: 'none' });
    return form({ class: 'card', 'aria-label': 'Create a key' }, [
      h('h2', {}, 'Create a key'),
      h('div', { class: 'grid' },
        field('Name', name), field('Service', service), field('Environment', env),
        field('Scopes', scopes, 'Comma-separated.'), field('Rotation period', rotation, 'e.g. 720h; empty: the mount default.'),
        field('Grace period', grace, 'How long the previous version stays valid.'), field('TTL', ttl)),
      h('button', { type: 'submit' }, 'Create'),
    ], async () => {
      const b = { service: service.value.trim(), environment: env.value };
      const sc = scopes.value.split(',').map((s) => s.trim()).filter(Boolean);
      if (sc.length) b.scopes = sc;
      if (rotation.value.trim()) b.rotation_period = rotation.value.trim();
      if (grace.value.trim()) b.grace_period = grace.value.trim();
      if (ttl.value.trim()) b.ttl = ttl.value.trim();
      const n = name.value.trim();
      if (!n) throw new Error('Enter a name.');
      const r = await api('POST', `${enc(m)}/keys/${enc(n)}`, b);
      put(once, shownOnce(r.data), h('p', {}, h('a', { href: `#/apikeys/${enc(m)}/${enc(n)}` }, `Open ${n}`)));
    }, msg);
  }

  async function key(m, n) {
    const once = h('div', {});
    const info = h('div', {});
    put(body, crumbs(m, n), h('h1', {}, n), once, info);
    async function load() {
      const d = (await api('GET', `${enc(m)}/keys/${enc(n)}`)).data;
      const vrows = Object.entries(d.versions || {})
        .sort((a, b) => Number(b[0]) - Number(a[0]))
        .map(([v, x]) => [
          `v${v}`,
          h('span', { class: `badge state-${x.state}`, 'data-version': v }, x.state),
          when(x.created_time),
          when(x.superseded_time),
          when(x.valid_until || x.expires_time),
          when(x.last_used_time),
          String(x.use_count ?? 0),
          x.state === 'revoked' || x.state === 'retired' ? '' : action('Revoke', async () => {
            if (!window.confirm(`Revoke version ${v} of ${n} now?`)) return;
            await api('POST', `${enc(m)}/keys/${enc(n)}/revoke`, { version: Number(v) });
            await load();
            msg.ok(`Version ${v} revoked.`);
          }, msg, { class: 'danger', 'aria-label': `Revoke version ${v}` }),
        ]);
      put(info,
        h('section', { class: 'card' }, h('h2', {}, 'Key'), facts([
          ['Service', d.service], ['Environment', d.environment], ['Scopes', (d.scopes || []).join(', ')],
          ['Current version', d.current_version], ['Rotation period', duration(d.rotation_period)],
          ['Next rotation', when(d.next_rotation)], ['Rotation due', String(!!d.rotation_due)],
          ['Grace period', duration(d.grace_period)], ['TTL', duration(d.ttl)],
          ['Created', when(d.created_time)], ['Updated', when(d.updated_time)],
          ['Metadata', d.metadata && Object.keys(d.metadata).length ? JSON.stringify(d.metadata) : ''],
        ])),
        h('section', { class: 'card' }, h('h2', {}, 'Versions'),
          table(['Version', 'State', 'Created', 'Superseded', 'Valid until (grace end)', 'Last used', 'Uses', 'Actions'], vrows)),
        h('div', { class: 'row' },
          action('Rotate now', async () => {
            const r = await api('POST', `${enc(m)}/keys/${enc(n)}/rotate`);
            put(once, shownOnce(r.data));
            await load();
          }, msg, { id: 'rotate-now' }),
          action('Revoke every version', async () => {
            if (!window.confirm(`Revoke every version of ${n} now?`)) return;
            await api('POST', `${enc(m)}/keys/${enc(n)}/revoke`, {});
            await load();
          }, msg, { class: 'danger' }),
          action('Delete the key', async () => {
            if (!window.confirm(`Revoke and remove ${n}?`)) return;
            await api('DELETE', `${enc(m)}/keys/${enc(n)}`);
            go(`#/apikeys/${enc(m)}`);
          }, msg, { class: 'danger' })));
    }
    await load();
  }
}
