// ACL policies: list, read, edit with the server's validation errors
// shown next to the text, create, delete.

import { api, enc } from '../api.js';
import { h, put, field, input, messages, form, action } from '../dom.js';

export const title = 'Policies';

export async function render(root, { rest, params, go }) {
  const msg = messages();
  const body = h('div', {});
  put(root, msg.el, body);
  const name = rest.join('/');
  if (name) await edit(name);
  else await list();
  return () => put(root);

  async function list() {
    const names = ((await api('LIST', 'sys/policies/acl')).data || {}).keys || [];
    const n = input({ id: 'new-policy-name' });
    put(body, h('h1', {}, 'ACL policies'),
      h('ul', { class: 'listing', id: 'policy-list' }, names.map((p) => h('li', {}, h('a', { href: `#/policies/${enc(p)}` }, p)))),
      form({ class: 'row', 'aria-label': 'New policy' }, [field('New policy name', n), h('button', { type: 'submit' }, 'Create')], async () => {
        const v = n.value.trim();
        if (!v) throw new Error('Enter a name.');
        go(`#/policies/${enc(v)}?new=1`);
      }, msg));
  }

  async function edit(p) {
    let text = '';
    // a new one is not looked up: its name is free, or saving replaces it
    let exists = params.get('new') !== '1';
    if (exists) {
      try {
        const r = await api('GET', `sys/policies/acl/${enc(p)}`);
        text = (r.data && r.data.policy) || '';
      } catch (e) {
        if (e.status !== 404) throw e;
        exists = false;
      }
    }
    const area = h('textarea', { id: 'policy-text', rows: '16', spellcheck: 'false', class: 'code' });
    area.value = text || `path "secret/data/*" {\n  capabilities = ["read"]\n}\n`;
    const problems = h('div', { id: 'policy-errors', 'aria-live': 'polite' });
    const fixed = p === 'root';
    put(body,
      h('nav', { class: 'crumbs', 'aria-label': 'Breadcrumb' }, h('a', { href: '#/policies' }, 'Policies'), ' / ', h('span', { 'aria-current': 'page' }, p)),
      h('h1', {}, p, exists ? '' : ' (new)'),
      form({ class: 'card', 'aria-label': 'Policy text' }, [
        field('Policy (HCL)', area), problems,
        fixed ? h('p', { class: 'muted' }, 'The root policy cannot be changed.') : h('div', { class: 'row' },
          h('button', { type: 'submit' }, 'Save'),
          exists && p !== 'default' ? action('Delete', async () => {
            if (!window.confirm(`Delete the policy ${p}?`)) return;
            await api('DELETE', `sys/policies/acl/${enc(p)}`);
            go('#/policies');
          }, msg, { class: 'danger' }) : null),
      ], async () => {
        put(problems);
        area.removeAttribute('aria-invalid');
        try {
          await api('PUT', `sys/policies/acl/${enc(p)}`, { policy: area.value });
        } catch (e) {
          // the server's validation, in place
          area.setAttribute('aria-invalid', 'true');
          put(problems, h('div', { class: 'msg error', role: 'alert' }, (e.errors || [String(e.message)]).map((m) => h('p', {}, m))));
          area.setAttribute('aria-describedby', 'policy-errors');
          return;
        }
        msg.ok(`Saved ${p}.`);
      }, msg));
    area.readOnly = fixed;
  }
}
