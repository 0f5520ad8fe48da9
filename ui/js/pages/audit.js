// Audit review: choose a file device, search its log (time range, path
// glob, operation, status, token via audit-hash), read entries with their
// HMAC-ed fields marked, verify the hash chain and signed checkpoints
// (where it breaks), and follow the live log.

import { api, enc, query } from '../api.js';
import { h, put, clear, field, input, select, messages, form, action } from '../dom.js';

export const title = 'Audit';

const FOLLOW_EVERY_MS = 2000;
const HMAC = 'hmac-sha256:';

export async function render(root, { params, go }) {
  const msg = messages();
  const devicesEl = h('div', {});
  const work = h('div', {});
  put(root, h('h1', {}, 'Audit review'), msg.el, devicesEl, work);
  let timer = null;
  let stopped = false;
  const stopFollowing = () => {
    if (timer) clearTimeout(timer);
    timer = null;
  };

  const r = await api('GET', 'sys/audit');
  const all = Object.entries(r.data || {}).map(([p, d]) => ({ path: p.replace(/\/$/, ''), ...d }));
  const files = all.filter((d) => d.type === 'file' && d.options && !['stdout', 'discard'].includes(d.options.file_path));
  const chosen = params.get('device') || (files[0] && files[0].path) || '';

  put(devicesEl, h('section', { class: 'card' }, h('h2', {}, 'Devices'),
    all.length ? h('ul', { class: 'listing', id: 'device-list' }, all.map((d) => h('li', {},
      files.some((f) => f.path === d.path)
        ? h('a', { href: `#/audit?device=${encodeURIComponent(d.path)}`, 'aria-current': d.path === chosen ? 'true' : null }, `${d.path}/`)
        : `${d.path}/`,
      ` (${d.type}${d.options && d.options.file_path ? `: ${d.options.file_path}` : ''})`)))
      : h('p', { class: 'muted' }, 'No audit device is enabled.'),
    enableForm()));

  if (chosen) review(chosen);

  function enableForm() {
    const path = input({ id: 'audit-path', value: 'file' });
    const file = input({ id: 'audit-file-path', placeholder: '/var/log/vault-rs/audit.log' });
    return h('details', {}, h('summary', {}, 'Enable a file device'),
      form({ 'aria-label': 'Enable a file device' }, [
        field('Path', path), field('Log file', file, 'A path on the server; the server writes it.'),
        h('button', { type: 'submit' }, 'Enable'),
      ], async () => {
        const p = path.value.trim().replace(/^\/|\/$/g, '');
        await api('PUT', `sys/audit/${enc(p)}`, { type: 'file', options: { file_path: file.value.trim() } });
        go(`#/audit?device=${encodeURIComponent(p)}&t=${Date.now()}`);
      }, msg));
  }

  function review(dev) {
    const results = h('div', { id: 'audit-results' });
    const detail = h('div', { id: 'audit-detail' });
    const verifyOut = h('div', { id: 'verify-result', 'aria-live': 'polite' });
    const from = input({ id: 'q-from', placeholder: '2024-05-01T00:00:00Z or 1h' });
    const to = input({ id: 'q-to', placeholder: 'RFC 3339 or 15m' });
    const path = input({ id: 'q-path', placeholder: 'secret/data/*' });
    const op = select([['', 'any'], ['read', 'read'], ['list', 'list'], ['create', 'create'], ['update', 'update'], ['create,update', 'create or update'], ['patch', 'patch'], ['delete', 'delete']], { id: 'q-operation' });
    const status = input({ id: 'q-status', placeholder: '403, 4xx, ok, error' });
    const who = input({ id: 'q-token', placeholder: 'a token, an accessor, or hmac-sha256:…' });
    const type = select([['response', 'responses (one per request)'], ['request', 'requests'], ['all', 'both']], { id: 'q-type' });
    const key = h('textarea', { id: 'verify-key', rows: '2', spellcheck: 'false', class: 'code' });
    const followBox = h('input', { type: 'checkbox', id: 'follow' });
    const hideOwn = h('input', { type: 'checkbox', id: 'hide-own', checked: true });
    hideOwn.addEventListener('change', () => {
      if (filters) filters.exclude_path = hideOwn.checked ? 'sys/audit/*/entries' : '';
    });
    let rows = [];
    let lastSeq = null;
    let filters = null;

    async function filtersNow() {
      let tokenHash = '';
      const w = who.value.trim();
      if (w) {
        // the search runs on HMACs: hash what was typed with the device's salt
        tokenHash = w.startsWith(HMAC) ? w : (await api('POST', `sys/audit-hash/${enc(dev)}`, { input: w })).data.hash;
      }
      return {
        from: from.value, to: to.value, path: path.value, operation: op.value, status: status.value,
        token_hash: tokenHash, type: type.value,
        // the server leaves them out: a follower's own polls, whose
        // responses hold entries, must not come back in the next poll
        exclude_path: hideOwn.checked ? 'sys/audit/*/entries' : '',
      };
    }


    function line(hit) {
      const e = hit.entry || {};
      const req = e.request || {};
      const st = e.response && e.response.status_code;
      const btn = h('button', { type: 'button', class: 'link', 'aria-label': `Show line ${hit.line}` }, String(hit.line));
      btn.addEventListener('click', () => showEntry(hit));
      return h('tr', { 'data-line': String(hit.line) },
        h('td', {}, btn), h('td', {}, e.time || ''), h('td', {}, e.type || ''),
        h('td', {}, st === undefined ? '' : h('span', { class: `badge ${st >= 400 ? 'bad' : 'good'}` }, String(st))),
        h('td', {}, req.operation || ''), h('td', { class: 'path' }, req.path || ''),
        h('td', {}, (e.auth && e.auth.display_name) || ''), h('td', {}, req.remote_address || ''),
        h('td', { class: 'err' }, e.error || ''));
    }

    function drawResults(nextOffset) {
      const tbody = h('tbody', {}, rows.map(line));
      put(results,
        h('p', { class: 'muted', id: 'result-count' }, `${tbody.childElementCount} entries`),
        h('div', { class: 'table-wrap' }, h('table', { id: 'audit-table' },
          h('thead', {}, h('tr', {}, ['Line', 'Time', 'Type', 'Status', 'Operation', 'Path', 'Who', 'From', 'Error'].map((t) => h('th', { scope: 'col' }, t)))),
          tbody)),
        nextOffset !== null && nextOffset !== undefined
          ? action('More', async () => {
            const r2 = await api('GET', `sys/audit/${enc(dev)}/entries${query({ ...filters, offset: nextOffset })}`);
            rows = rows.concat(r2.data.entries);
            lastSeq = r2.data.last_seq;
            drawResults(r2.data.next_offset);
          }, msg, { class: 'secondary' })
          : null);
    }

    async function search() {
      stopFollowing();
      followBox.checked = false;
      filters = await filtersNow();
      const r2 = await api('GET', `sys/audit/${enc(dev)}/entries${query(filters)}`);
      rows = r2.data.entries;
      lastSeq = r2.data.last_seq;
      clear(detail);
      drawResults(r2.data.next_offset);
    }

    async function poll() {
      timer = null;
      if (stopped || !followBox.checked) return;
      try {
        // to the end of the log first, then what comes after it
        let r2 = await api('GET', `sys/audit/${enc(dev)}/entries${query({ ...filters, after_seq: lastSeq, limit: 1000 })}`);
        rows = rows.concat(r2.data.entries);
        while (r2.data.next_offset) {
          r2 = await api('GET', `sys/audit/${enc(dev)}/entries${query({ ...filters, after_seq: lastSeq, limit: 1000, offset: r2.data.next_offset })}`);
          rows = rows.concat(r2.data.entries);
        }
        if (r2.data.last_seq !== null && r2.data.last_seq !== undefined) lastSeq = r2.data.last_seq;
        if (rows.length > 2000) rows = rows.slice(rows.length - 2000);
        drawResults(null);
      } catch (e) {
        msg.error(e);
      }
      if (!stopped && followBox.checked) timer = setTimeout(poll, FOLLOW_EVERY_MS);
    }

    followBox.addEventListener('change', async () => {
      stopFollowing();
      if (!followBox.checked) return;
      if (!filters) filters = await filtersNow();
      poll();
    });

    function showEntry(hit) {
      put(detail, h('section', { class: 'card', 'aria-labelledby': 'entry-h' },
        h('h2', { id: 'entry-h' }, `Line ${hit.line}`, hit.seq !== null ? ` (seq ${hit.seq})` : ''),
        h('p', { class: 'muted' }, 'Fields marked ', h('span', { class: 'hmac' }, 'HMAC'), ' hold the HMAC-SHA256 of the value (search for one with audit-hash), never the value.'),
        h('pre', { class: 'json' }, tree(hit.entry, 0))));
      detail.querySelector('h2').setAttribute('tabindex', '-1');
      detail.querySelector('h2').focus();
    }

    async function verify() {
      const b = {};
      if (key.value.trim()) b.public_key = key.value.trim();
      const rep = (await api('POST', `sys/audit/${enc(dev)}/verify`, b)).data;
      const counts = `${rep.lines} lines: ${rep.requests} requests, ${rep.responses} responses, ${rep.checkpoints} checkpoints`;
      if (rep.ok) {
        put(verifyOut, h('div', { class: 'msg ok', role: 'status', id: 'verify-ok' },
          h('strong', {}, 'The log verifies. '), `${counts}; signed by key ${rep.key_id || '?'}`,
          rep.key_from_log ? ' (the key in the log header: give the trusted public key to prove the origin too)' : ' (the trusted key given)',
          rep.unsigned_tail ? `; ${rep.unsigned_tail} lines after the last checkpoint (still being written).` : '.'));
        return;
      }
      const problems = rep.problems || [];
      put(verifyOut, h('div', { class: 'msg error', role: 'alert', id: 'verify-bad' },
        h('strong', {}, `The log does not verify: the first problem is at line ${rep.first_bad_line}.`),
        h('ul', {}, problems.map((p) => h('li', { 'data-line': String(p.line) }, `Line ${p.line} (${p.kind.replace(/_/g, ' ')}): ${p.message}`))),
        rep.more_problems ? h('p', {}, `… and ${rep.more_problems} more.`) : null,
        h('p', {}, `Checked ${counts}.`),
        action(`Show the entries around line ${rep.first_bad_line}`, async () => {
          filters = { type: 'all' };
          const r2 = await api('GET', `sys/audit/${enc(dev)}/entries${query({ type: 'all', limit: 1000 })}`);
          rows = r2.data.entries.filter((x) => Math.abs(x.line - rep.first_bad_line) <= 3);
          drawResults(null);
          clear(detail);
          const row = results.querySelector(`tr[data-line="${rep.first_bad_line}"]`);
          if (row) {
            row.classList.add('bad-line');
            row.scrollIntoView({ block: 'center' });
            row.querySelector('button').focus({ preventScroll: true });
          }
        }, msg, { class: 'secondary' })));
    }

    put(work,
      form({ class: 'card', 'aria-label': 'Search the log' }, [
        h('h2', {}, `Search ${dev}/`),
        h('div', { class: 'grid' },
          field('From', from), field('To', to), field('Path (glob)', path), field('Operation', op),
          field('Status', status), field('Token or accessor', who, 'Hashed with the device\'s salt (audit-hash) before searching.'),
          field('Entries', type)),
        h('div', { class: 'row' }, h('button', { type: 'submit', id: 'search' }, 'Search'),
          h('label', { class: 'check' }, followBox, ' Follow the live log'),
          h('label', { class: 'check' }, hideOwn, ' Hide this page\'s own review requests')),
      ], search, msg),
      results, detail,
      h('section', { class: 'card', 'aria-labelledby': 'verify-h' }, h('h2', { id: 'verify-h' }, 'Verify the chain'),
        h('p', {}, 'Checks that no line was changed, inserted, removed or reordered, and that every checkpoint is signed.'),
        field('Trusted public key (optional)', key, 'Base64, hex or PEM, from sys/audit/:path/public-key kept elsewhere.'),
        action('Verify', verify, msg, { id: 'verify' }), verifyOut));
  }

  return () => {
    stopped = true;
    stopFollowing();
    put(root);
  };
}

/** An entry as an indented tree; HMAC-ed strings are marked. */
function tree(v, depth) {
  const pad = '  '.repeat(depth);
  if (v === null || typeof v !== 'object') {
    if (typeof v === 'string' && v.startsWith(HMAC)) {
      return h('span', { class: 'hmac', title: 'HMAC-SHA256 of the value' }, JSON.stringify(v));
    }
    return h('span', { class: `v-${v === null ? 'null' : typeof v}` }, JSON.stringify(v));
  }
  const isArray = Array.isArray(v);
  const entries = isArray ? v.map((x, i) => [i, x]) : Object.entries(v);
  if (!entries.length) return document.createTextNode(isArray ? '[]' : '{}');
  const frag = document.createDocumentFragment();
  frag.appendChild(document.createTextNode(isArray ? '[\n' : '{\n'));
  entries.forEach(([k, x], i) => {
    frag.appendChild(document.createTextNode(`${pad}  `));
    if (!isArray) {
      frag.appendChild(h('span', { class: 'k' }, JSON.stringify(k)));
      frag.appendChild(document.createTextNode(': '));
    }
    frag.appendChild(tree(x, depth + 1));
    frag.appendChild(document.createTextNode(i < entries.length - 1 ? ',\n' : '\n'));
  });
  frag.appendChild(document.createTextNode(`${pad}${isArray ? ']' : '}'}`));
  return frag;
}
