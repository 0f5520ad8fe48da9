// Tokens and leases: look up this token or one by accessor, revoke them;
// look up, list and revoke leases.

import { api, enc, logout } from '../api.js';
import { h, put, field, input, messages, table, facts, form, action, when, duration } from '../dom.js';

export const title = 'Tokens & leases';

function tokenFacts(d) {
  return facts([
    ['Display name', d.display_name], ['Accessor', h('code', {}, d.accessor || '')],
    ['Policies', (d.policies || []).join(', ')], ['Type', d.type], ['TTL', duration(d.ttl)],
    ['Expires', when(d.expire_time)], ['Issued', when(d.issue_time)], ['Renewable', String(!!d.renewable)],
    ['Orphan', String(!!d.orphan)], ['Path', d.path], ['Uses left', d.num_uses ? String(d.num_uses) : 'unlimited'],
    ['Metadata', d.meta ? JSON.stringify(d.meta) : ''],
  ]);
}

export async function render(root, { go }) {
  const msg = messages();
  const self = h('section', { class: 'card', 'aria-labelledby': 'self-h' });
  const other = h('div', {});
  const lease = h('div', {});
  const accessor = input({ id: 'accessor' });
  const leaseId = input({ id: 'lease-id' });
  const prefix = input({ id: 'lease-prefix', placeholder: 'auth/userpass/login/' });
  put(root, h('h1', {}, 'Tokens & leases'), msg.el, self,
    form({ class: 'card', 'aria-label': 'Token by accessor' }, [
      h('h2', {}, 'A token by accessor'), field('Accessor', accessor),
      h('div', { class: 'row' }, h('button', { type: 'submit', value: 'lookup' }, 'Look up'),
        h('button', { type: 'submit', value: 'revoke', class: 'danger' }, 'Revoke')), other,
    ], async (submitter) => {
      const a = accessor.value.trim();
      if (!a) throw new Error('Enter an accessor.');
      if (submitter && submitter.value === 'revoke') {
        if (!window.confirm('Revoke this token and its children?')) return;
        await api('POST', 'auth/token/revoke-accessor', { accessor: a });
        put(other);
        msg.ok('Revoked.');
        return;
      }
      const r = await api('POST', 'auth/token/lookup-accessor', { accessor: a });
      put(other, tokenFacts(r.data || {}));
    }, msg),
    form({ class: 'card', 'aria-label': 'Leases' }, [
      h('h2', {}, 'Leases'), field('Lease ID', leaseId),
      h('div', { class: 'row' }, h('button', { type: 'submit', value: 'lookup' }, 'Look up'),
        h('button', { type: 'submit', value: 'renew', class: 'secondary' }, 'Renew'),
        h('button', { type: 'submit', value: 'revoke', class: 'danger' }, 'Revoke')),
      field('Or list the leases under a prefix (sudo)', prefix),
      h('button', { type: 'submit', value: 'list', class: 'secondary' }, 'List'), lease,
    ], async (submitter) => {
      const what = submitter ? submitter.value : 'lookup';
      if (what === 'list') {
        const p = prefix.value.trim();
        let keys = [];
        try {
          keys = ((await api('LIST', `sys/leases/lookup/${enc(p)}`)).data || {}).keys || [];
        } catch (e) {
          if (e.status !== 404) throw e;
        }
        put(lease, keys.length ? table(['Under ' + (p || '/')], keys.map((k) => [h('code', {}, p + k)])) : h('p', { class: 'muted' }, 'No leases there.'));
        return;
      }
      const id = leaseId.value.trim();
      if (!id) throw new Error('Enter a lease ID.');
      if (what === 'revoke') {
        if (!window.confirm('Revoke this lease?')) return;
        await api('POST', 'sys/leases/revoke', { lease_id: id });
        put(lease);
        msg.ok('Revoked.');
      } else if (what === 'renew') {
        const r = await api('POST', 'sys/leases/renew', { lease_id: id });
        msg.ok(`Renewed for ${duration(r.lease_duration)}.`);
      } else {
        const d = (await api('POST', 'sys/leases/lookup', { lease_id: id })).data || {};
        put(lease, facts([['ID', d.id], ['Issued', when(d.issue_time)], ['Expires', when(d.expire_time)],
          ['Last renewal', when(d.last_renewal)], ['Renewable', String(!!d.renewable)], ['TTL', duration(d.ttl)]]));
      }
    }, msg));

  const r = await api('GET', 'auth/token/lookup-self');
  const d = r.data || {};
  put(self, h('h2', { id: 'self-h' }, 'This token'), tokenFacts(d),
    h('div', { class: 'row' },
      d.renewable ? action('Renew', async () => {
        const x = await api('POST', 'auth/token/renew-self', {});
        msg.ok(`Renewed for ${duration(x.auth && x.auth.lease_duration)}.`);
      }, msg, { class: 'secondary' }) : null,
      action('Revoke this token and log out', async () => {
        if (!window.confirm('Revoke this token now? Its child tokens are revoked too.')) return;
        await api('POST', 'auth/token/revoke-self');
        await logout();
        go('#/login');
      }, msg, { class: 'danger' })));
  return () => put(root);
}
