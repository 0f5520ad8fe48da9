// Seal status, initialization and unsealing (no token needed), sealing.

import { api, getToken } from '../api.js';
import { h, put, field, input, messages, facts, form, action } from '../dom.js';

export const title = 'Status';

export async function render(root) {
  const msg = messages();
  const body = h('div', {});
  put(root, h('h1', {}, 'Seal status'), msg.el, body);

  async function refresh() {
    const s = await api('GET', 'sys/seal-status', undefined, { noToken: true });
    put(body, summary(s));
    if (!s.initialized) body.appendChild(initForm());
    else if (s.sealed) body.appendChild(unsealForm(s));
    else if (getToken()) body.appendChild(sealPanel());
    return s;
  }

  function summary(s) {
    const state = !s.initialized ? 'not initialized' : s.sealed ? 'sealed' : 'unsealed';
    return h('section', { class: 'card', 'aria-labelledby': 'seal-h' },
      h('h2', { id: 'seal-h' }, 'Vault ', h('span', { class: `badge ${s.sealed ? 'bad' : 'good'}`, id: 'seal-state' }, state)),
      facts([
        ['Key shares (n)', s.n], ['Threshold (t)', s.t], ['Seal type', s.type],
        ['Storage', s.storage_type], ['Version', s.version], ['Cluster', s.cluster_name],
      ]));
  }

  function initForm() {
    const shares = input({ type: 'number', min: '1', max: '255', value: '3', inputmode: 'numeric' });
    const threshold = input({ type: 'number', min: '1', max: '255', value: '2', inputmode: 'numeric' });
    const out = h('div', {});
    const f = form({ class: 'card', 'aria-label': 'Initialize' }, [
      h('h2', {}, 'Initialize'),
      h('p', {}, 'Splits the root key into shares; the threshold of them unseals the vault.'),
      field('Key shares', shares), field('Key threshold', threshold),
      h('button', { type: 'submit' }, 'Initialize'), out,
    ], async () => {
      const r = await api('PUT', 'sys/init', {
        secret_shares: Number(shares.value), secret_threshold: Number(threshold.value),
      }, { noToken: true });
      put(out, h('div', { class: 'once', role: 'status' },
        h('p', { class: 'warn' }, 'Shown once: keep each share with a different person, and the root token safe.'),
        h('ol', { id: 'init-keys' }, (r.keys_base64 || r.keys || []).map((k) => h('li', {}, h('code', { class: 'secret-text' }, k)))),
        h('p', {}, 'Initial root token: ', h('code', { class: 'secret-text', id: 'init-root-token' }, r.root_token)),
        action('I have stored them: continue to unseal', async () => {
          await refresh();
        }, msg)));
    }, msg);
    return f;
  }

  function unsealForm(s) {
    const key = input({ type: 'password', autocomplete: 'off', id: 'unseal-key' });
    const progress = h('progress', { max: String(s.t || 1), value: String(s.progress || 0), id: 'unseal-progress', 'aria-label': 'Unseal progress' });
    return form({ class: 'card', 'aria-label': 'Unseal' }, [
      h('h2', {}, 'Unseal'),
      h('p', { id: 'unseal-count' }, `${s.progress || 0} of ${s.t} key shares entered.`), progress,
      field('Unseal key share', key, 'Base64 or hex; each key holder enters their own.'),
      h('div', { class: 'row' },
        h('button', { type: 'submit' }, 'Submit share'),
        action('Reset attempt', async () => {
          await api('PUT', 'sys/unseal', { reset: true }, { noToken: true });
          await refresh();
          msg.ok('The unseal attempt was reset: the shares entered so far are forgotten.');
        }, msg, { class: 'secondary' })),
    ], async () => {
      const k = key.value.trim();
      key.value = '';
      if (!k) throw new Error('Enter a key share.');
      const r = await api('PUT', 'sys/unseal', { key: k }, { noToken: true });
      await refresh();
      msg.ok(r.sealed ? `Share accepted: ${r.progress} of ${r.t}.` : 'The vault is unsealed.');
    }, msg);
  }

  function sealPanel() {
    return h('section', { class: 'card' }, h('h2', {}, 'Seal'),
      h('p', {}, 'Sealing stops every request until the vault is unsealed again (needs sudo).'),
      action('Seal the vault', async () => {
        if (!window.confirm('Seal the vault now?')) return;
        await api('PUT', 'sys/seal');
        await refresh();
      }, msg, { class: 'danger' }));
  }

  try {
    await refresh();
  } catch (e) {
    msg.error(e);
  }
  // the shares and root token shown after initializing go with the page
  return () => {
    put(root);
  };
}
