// The KV browser (v1 and v2). Secret values stay in this module's memory
// and enter the page only when revealed (or copied, or loaded into the
// edit form); leaving the page forgets them.

import { api, enc } from '../api.js';
import { h, put, clear, field, input, select, messages, table, facts, form, action, copy, when } from '../dom.js';

export const title = 'Secrets';

const MASK = '••••••••';

export async function render(root, { rest, params, go }) {
  const msg = messages();
  const body = h('div', {});
  put(root, msg.el, body);
  // what must be forgotten on leaving
  let held = null;
  const forget = () => {
    held = null;
    put(root);
  };

  const mount = rest[0] || '';
  const path = rest.slice(1).join('/');

  if (!mount) {
    await mounts();
    return forget;
  }
  const version = await kvVersion(mount);
  if (path === '' || path.endsWith('/')) await folder(mount, path, version);
  else await entry(mount, path, version, params.get('version'));
  return forget;

  async function kvVersion(m) {
    try {
      const r = await api('GET', `sys/internal/ui/mounts/${enc(m)}`);
      const v = r.data && r.data.options && r.data.options.version;
      return v === '2' ? 2 : 1;
    } catch {
      return 1;
    }
  }

  function crumbs(m, p) {
    const parts = p.split('/').filter(Boolean);
    const links = [h('a', { href: '#/secrets' }, 'Secrets'), ' / ', h('a', { href: `#/secrets/${enc(m)}/` }, `${m}/`)];
    let acc = '';
    parts.forEach((seg, i) => {
      const last = i === parts.length - 1 && !p.endsWith('/');
      acc += seg + (last ? '' : '/');
      links.push(' ');
      links.push(last ? h('span', { 'aria-current': 'page' }, seg) : h('a', { href: `#/secrets/${enc(m)}/${enc(acc)}` }, `${seg}/`));
    });
    return h('nav', { class: 'crumbs', 'aria-label': 'Breadcrumb' }, links);
  }

  async function mounts() {
    const open = input({ id: 'open-path', placeholder: 'secret/app/config' });
    put(body, h('h1', {}, 'Secrets engines'),
      form({ class: 'row', 'aria-label': 'Open a path' }, [field('Open a path', open), h('button', { type: 'submit' }, 'Open')], async () => {
        const p = open.value.trim().replace(/^\/+/, '');
        if (p) go(`#/secrets/${enc(p)}`);
      }, msg));
    try {
      const r = await api('GET', 'sys/mounts');
      const all = r.data || r;
      const rows = Object.entries(all)
        .filter(([, m]) => m && (m.type === 'kv' || m.type === 'generic'))
        .map(([p, m]) => [
          h('a', { href: `#/secrets/${enc(p.replace(/\/$/, ''))}/` }, p),
          `v${(m.options && m.options.version) || '1'}`,
          m.description || '',
        ]);
      body.appendChild(table(['Path', 'KV version', 'Description'], rows, 'KV mounts'));
    } catch (e) {
      body.appendChild(h('p', { class: 'muted' }, 'The mount list is not readable with this token: open a path above.'));
    }
    body.appendChild(enableForm());
  }

  function enableForm() {
    const at = input({ id: 'mount-path', value: 'secret' });
    const kind = select([['kv2', 'KV version 2'], ['kv1', 'KV version 1'], ['apikeys', 'API keys']], { id: 'mount-type' });
    return h('details', {}, h('summary', {}, 'Enable a secrets engine'),
      form({ class: 'card', 'aria-label': 'Enable a secrets engine' }, [
        field('Path', at), field('Type', kind), h('button', { type: 'submit' }, 'Enable'),
      ], async () => {
        const p = at.value.trim().replace(/^\/|\/$/g, '');
        const b = kind.value === 'apikeys' ? { type: 'apikeys' } : { type: 'kv', options: { version: kind.value === 'kv2' ? '2' : '1' } };
        await api('POST', `sys/mounts/${enc(p)}`, b);
        go(kind.value === 'apikeys' ? `#/apikeys/${enc(p)}` : `#/secrets/${enc(p)}/`);
      }, msg));
  }

  async function folder(m, p, v) {
    const listPath = v === 2 ? `${enc(m)}/metadata/${enc(p)}` : `${enc(m)}/${enc(p)}`;
    const list = h('div', {});
    put(body, crumbs(m, p), h('h1', {}, `${m}/${p}`), h('p', { class: 'muted' }, `KV version ${v}`), list, newSecretForm(m, p, v));
    let keys = [];
    try {
      const r = await api('LIST', listPath);
      keys = (r.data && r.data.keys) || [];
    } catch (e) {
      if (e.status !== 404) msg.error(e);
    }
    if (!keys.length) {
      put(list, h('p', { class: 'muted', id: 'empty-folder' }, 'Nothing here yet.'));
      return;
    }
    put(list, h('ul', { class: 'listing', id: 'secret-list' }, keys.map((k) =>
      h('li', {}, h('a', { href: `#/secrets/${enc(m)}/${enc(p + k)}`, class: k.endsWith('/') ? 'folder' : 'leaf' }, k)))));
  }

  function pairEditor(initial) {
    const rows = h('div', { class: 'pairs' });
    const add = (k = '', val = '') => {
      const key = input({ value: k, 'aria-label': 'Key', class: 'pair-key' });
      const value = h('textarea', { rows: '1', 'aria-label': `Value`, class: 'pair-value', spellcheck: 'false', autocomplete: 'off' });
      value.value = val;
      const row = h('div', { class: 'pair' }, key, value,
        h('button', { type: 'button', class: 'secondary', 'aria-label': 'Remove this pair', onclick: () => row.remove() }, '−'));
      rows.appendChild(row);
    };
    (initial && initial.length ? initial : [['', '']]).forEach(([k, val]) => add(k, val));
    return {
      el: h('div', {}, rows, h('button', { type: 'button', class: 'secondary', onclick: () => add() }, 'Add a pair')),
      read() {
        const out = {};
        for (const row of rows.querySelectorAll('.pair')) {
          const k = row.querySelector('.pair-key').value.trim();
          if (k) out[k] = row.querySelector('.pair-value').value;
        }
        return out;
      },
      wipe() {
        for (const t of rows.querySelectorAll('textarea, input')) t.value = '';
      },
    };
  }

  function newSecretForm(m, p, v) {
    const name = input({ id: 'new-secret-path' });
    const pairs = pairEditor();
    return form({ class: 'card', 'aria-label': 'Create a secret' }, [
      h('h2', {}, 'Create a secret'),
      field(`Path under ${m}/${p}`, name), pairs.el,
      h('button', { type: 'submit' }, 'Save'),
    ], async () => {
      const n = name.value.trim().replace(/^\/+/, '');
      if (!n || n.endsWith('/')) throw new Error('Enter a path that names a secret (not ending in /).');
      const data = pairs.read();
      const full = p + n;
      if (v === 2) await api('POST', `${enc(m)}/data/${enc(full)}`, { data });
      else await api('POST', `${enc(m)}/${enc(full)}`, data);
      pairs.wipe();
      go(`#/secrets/${enc(m)}/${enc(full)}`);
    }, msg);
  }

  async function entry(m, p, v, wanted) {
    const view = h('section', { class: 'card', 'aria-labelledby': 'secret-h' });
    const side = h('div', {});
    put(body, crumbs(m, p), h('h1', { id: 'secret-h' }, p.split('/').pop()), view, side);
    const url = v === 2 ? `${enc(m)}/data/${enc(p)}` : `${enc(m)}/${enc(p)}`;
    let r;
    try {
      r = await api('GET', url + (v === 2 && wanted ? `?version=${encodeURIComponent(wanted)}` : ''));
    } catch (e) {
      if (e.status === 404 && v === 2) {
        put(view, h('p', {}, 'This version is deleted or destroyed (or the secret does not exist).'));
        await versions(m, p, side, wanted);
        return;
      }
      throw e;
    }
    const data = v === 2 ? (r.data && r.data.data) || {} : r.data || {};
    const meta = v === 2 ? (r.data && r.data.metadata) || {} : null;
    held = { data };
    showValues(view, m, p, v, meta);
    if (v === 2) await versions(m, p, side, wanted);
    else side.appendChild(h('div', { class: 'row' }, deleteButton(m, p, v)));
  }

  function showValues(view, m, p, v, meta) {
    const data = held ? held.data : {};
    const revealed = new Set();
    const rows = h('tbody', {});
    const cells = new Map();
    for (const k of Object.keys(data).sort()) {
      const cell = h('code', { class: 'masked', 'data-key': k }, MASK);
      cells.set(k, cell);
      const toggle = h('button', { type: 'button', class: 'secondary reveal', 'aria-pressed': 'false', 'aria-label': `Reveal ${k}` }, 'Reveal');
      toggle.addEventListener('click', () => {
        if (revealed.has(k)) {
          revealed.delete(k);
          cell.textContent = MASK;
          cell.className = 'masked';
          toggle.textContent = 'Reveal';
          toggle.setAttribute('aria-pressed', 'false');
          toggle.setAttribute('aria-label', `Reveal ${k}`);
        } else if (held) {
          revealed.add(k);
          const val = held.data[k];
          cell.textContent = typeof val === 'string' ? val : JSON.stringify(val);
          cell.className = 'revealed';
          toggle.textContent = 'Hide';
          toggle.setAttribute('aria-pressed', 'true');
          toggle.setAttribute('aria-label', `Hide ${k}`);
        }
      });
      const cp = action('Copy', async () => {
        if (!held) return;
        const val = held.data[k];
        const ok = await copy(typeof val === 'string' ? val : JSON.stringify(val));
        msg.ok(ok ? `Copied the value of ${k}.` : 'The browser did not allow copying.');
      }, msg, { class: 'secondary', 'aria-label': `Copy ${k}` });
      rows.appendChild(h('tr', {}, h('th', { scope: 'row' }, k), h('td', {}, cell), h('td', { class: 'actions' }, toggle, cp)));
    }
    const edit = h('div', {});
    put(view,
      meta ? h('p', { class: 'muted' }, `Version ${meta.version}, created ${when(meta.created_time)}`) : null,
      Object.keys(data).length
        ? h('div', { class: 'table-wrap' }, h('table', { id: 'secret-values' },
          h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Key'), h('th', { scope: 'col' }, 'Value'), h('th', { scope: 'col' }, h('span', { class: 'sr-only' }, 'Actions')))),
          rows))
        : h('p', { class: 'muted' }, 'No keys.'),
      h('div', { class: 'row' },
        action('Edit', async () => showEditor(edit, m, p, v, meta), msg, { class: 'secondary' })),
      edit);
  }

  function showEditor(edit, m, p, v, meta) {
    const mode = select(v === 2 ? [['write', 'Write a new version (replace all keys)'], ['patch', 'Patch (merge these keys; empty value removes)']] : [['write', 'Replace all keys']], { id: 'edit-mode' });
    const pairs = pairEditor();
    const loader = action('Load the current values into the form', async () => {
      if (!held) return;
      const cur = Object.entries(held.data).map(([k, val]) => [k, typeof val === 'string' ? val : JSON.stringify(val)]);
      const fresh = pairEditor(cur);
      pairs.el.replaceWith(fresh.el);
      pairs.el = fresh.el;
      pairs.read = fresh.read;
      pairs.wipe = fresh.wipe;
    }, msg, { class: 'secondary' });
    put(edit, form({ class: 'card', 'aria-label': 'Edit the secret' }, [
      h('h2', {}, 'Edit'), field('Mode', mode), loader, pairs.el,
      h('div', { class: 'row' }, h('button', { type: 'submit' }, 'Save'),
        h('button', { type: 'button', class: 'secondary', onclick: () => { pairs.wipe(); clear(edit); } }, 'Cancel')),
    ], async () => {
      const data = pairs.read();
      if (v === 2 && mode.value === 'patch') {
        const patch = {};
        for (const [k, val] of Object.entries(data)) patch[k] = val === '' ? null : val;
        await api('PATCH', `${enc(m)}/data/${enc(p)}`, { data: patch });
      } else if (v === 2) {
        await api('POST', `${enc(m)}/data/${enc(p)}`, { data, options: meta ? { cas: meta.version } : {} });
      } else {
        await api('POST', `${enc(m)}/${enc(p)}`, data);
      }
      pairs.wipe();
      go(`#/secrets/${enc(m)}/${enc(p)}`);
    }, msg));
  }

  function deleteButton(m, p, v) {
    return action(v === 2 ? 'Delete the latest version' : 'Delete', async () => {
      if (!window.confirm(`Delete ${m}/${p}?`)) return;
      await api('DELETE', v === 2 ? `${enc(m)}/data/${enc(p)}` : `${enc(m)}/${enc(p)}`);
      if (v === 2) go(`#/secrets/${enc(m)}/${enc(p)}`);
      else go(`#/secrets/${enc(m)}/${enc(p.split('/').slice(0, -1).join('/'))}${p.includes('/') ? '/' : ''}`);
    }, msg, { class: 'danger' });
  }

  async function versions(m, p, side, wanted) {
    let meta;
    try {
      meta = (await api('GET', `${enc(m)}/metadata/${enc(p)}`)).data;
    } catch (e) {
      if (e.status !== 404) msg.error(e);
      return;
    }
    const base = `#/secrets/${enc(m)}/${enc(p)}`;
    const refresh = () => go(`${base}${wanted ? `?version=${encodeURIComponent(wanted)}` : ''}`);
    const rows = Object.entries(meta.versions || {})
      .sort((a, b) => Number(b[0]) - Number(a[0]))
      .map(([n, ver]) => {
        const state = ver.destroyed ? 'destroyed' : ver.deletion_time ? 'deleted' : 'live';
        const body = { versions: [Number(n)] };
        return [
          h('a', { href: `${base}?version=${n}` }, `v${n}${Number(n) === meta.current_version ? ' (current)' : ''}`),
          when(ver.created_time),
          h('span', { class: `badge ${state === 'live' ? 'good' : 'bad'}` }, state),
          h('span', { class: 'actions' },
            state === 'live' ? action('Delete', async () => { await api('POST', `${enc(m)}/delete/${enc(p)}`, body); refresh(); }, msg, { class: 'secondary', 'aria-label': `Delete version ${n}` }) : null,
            state === 'deleted' ? action('Undelete', async () => { await api('POST', `${enc(m)}/undelete/${enc(p)}`, body); refresh(); }, msg, { class: 'secondary', 'aria-label': `Undelete version ${n}` }) : null,
            state !== 'destroyed' ? action('Destroy', async () => {
              if (!window.confirm(`Destroy version ${n} of ${p} for good?`)) return;
              await api('POST', `${enc(m)}/destroy/${enc(p)}`, body);
              refresh();
            }, msg, { class: 'danger', 'aria-label': `Destroy version ${n}` }) : null,
            state === 'live' && Number(n) !== meta.current_version ? action('Roll back to this', async () => {
              const old = await api('GET', `${enc(m)}/data/${enc(p)}?version=${n}`);
              await api('POST', `${enc(m)}/data/${enc(p)}`, { data: old.data.data, options: { cas: meta.current_version } });
              go(base);
            }, msg, { class: 'secondary', 'aria-label': `Roll back to version ${n}` }) : null),
        ];
      });
    put(side,
      h('section', { class: 'card' }, h('h2', {}, 'Versions'), table(['Version', 'Created', 'State', 'Actions'], rows)),
      h('section', { class: 'card' }, h('h2', {}, 'Metadata'), facts([
        ['Current version', meta.current_version], ['Oldest version', meta.oldest_version],
        ['Max versions', meta.max_versions || 'unlimited'], ['Check-and-set required', String(meta.cas_required)],
        ['Delete versions after', meta.delete_version_after], ['Created', when(meta.created_time)],
        ['Updated', when(meta.updated_time)],
        ['Custom metadata', meta.custom_metadata ? JSON.stringify(meta.custom_metadata) : ''],
      ])),
      h('div', { class: 'row' }, deleteButton(m, p, 2),
        action('Delete all versions and metadata', async () => {
          if (!window.confirm(`Remove ${m}/${p} with every version?`)) return;
          await api('DELETE', `${enc(m)}/metadata/${enc(p)}`);
          go(`#/secrets/${enc(m)}/`);
        }, msg, { class: 'danger' })));
  }
}
