// DOM helpers. Every text goes in as a text node or a property, never as
// markup: nothing the API returns can become script.

let ids = 0;

/** A fresh id for label/field pairs. */
export function uid(prefix = 'f') {
  ids += 1;
  return `${prefix}-${ids}`;
}

/**
 * h('button', {class: 'x', onclick: fn}, 'text', child, [more])
 * Attributes starting with "on" become listeners; `text` sets textContent;
 * `value`, `checked`, `disabled`, `hidden`, `selected` are set as properties.
 */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') {
      el.addEventListener(k.slice(2), v);
    } else if (k === 'text') {
      el.textContent = String(v);
    } else if (['value', 'checked', 'disabled', 'hidden', 'selected', 'multiple'].includes(k)) {
      el[k] = v;
    } else {
      el.setAttribute(k, v === true ? '' : String(v));
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else if (c instanceof Node) el.appendChild(c);
    else el.appendChild(document.createTextNode(String(c)));
  }
}

/** Removes every child of `el`. */
export function clear(el) {
  while (el.firstChild) el.removeChild(el.firstChild);
  return el;
}

/** Replaces the children of `el`. */
export function put(el, ...children) {
  clear(el);
  append(el, children);
  return el;
}

/** A labelled field: the label names the control (for=id). */
export function field(label, control, hint) {
  if (!control.id) control.id = uid();
  let hintEl = null;
  if (hint) {
    hintEl = h('span', { class: 'hint', id: uid('hint') }, hint);
    control.setAttribute('aria-describedby', hintEl.id);
  }
  return h('div', { class: 'field' }, h('label', { for: control.id }, label), control, hintEl);
}

/** A text input. */
export function input(attrs = {}) {
  return h('input', { type: 'text', autocomplete: 'off', spellcheck: 'false', ...attrs });
}

/** A select from [value, label] pairs. */
export function select(options, attrs = {}) {
  return h('select', attrs, options.map(([v, l]) => h('option', { value: v }, l ?? v)));
}

/** A message area: alert (errors) or status (news), spoken when it changes. */
export function messages() {
  const el = h('div', { class: 'messages', 'aria-live': 'polite' });
  return {
    el,
    error(e) {
      const list = e && e.errors && e.errors.length ? e.errors : [String((e && e.message) || e)];
      put(el, h('div', { class: 'msg error', role: 'alert' },
        list.length === 1 ? list[0] : h('ul', {}, list.map((m) => h('li', {}, m)))));
    },
    ok(text) {
      put(el, h('div', { class: 'msg ok', role: 'status' }, text));
    },
    clear() {
      clear(el);
    },
  };
}

/** A table from header names and rows of cells (nodes or text). */
export function table(headers, rows, caption) {
  return h('div', { class: 'table-wrap' },
    h('table', {},
      caption ? h('caption', {}, caption) : null,
      h('thead', {}, h('tr', {}, headers.map((t) => h('th', { scope: 'col' }, t)))),
      h('tbody', {}, rows.map((r) => h('tr', {}, r.map((c) => h('td', {}, c)))))));
}

/** A definition list from [term, value] pairs (empty values show "—"). */
export function facts(pairs) {
  return h('dl', { class: 'facts' }, pairs.map(([k, v]) => [
    h('dt', {}, k),
    h('dd', {}, v === null || v === undefined || v === '' ? '—' : v),
  ]));
}

/** A form whose submit runs `fn` (errors go to `msg`), busy while it runs. */
export function form(attrs, children, fn, msg) {
  const f = h('form', { ...attrs, novalidate: true }, children);
  f.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const buttons = f.querySelectorAll('button');
    buttons.forEach((b) => { b.disabled = true; });
    f.setAttribute('aria-busy', 'true');
    try {
      if (msg) msg.clear();
      await fn(ev.submitter || null);
    } catch (e) {
      if (msg) msg.error(e);
    } finally {
      buttons.forEach((b) => { b.disabled = false; });
      f.removeAttribute('aria-busy');
    }
  });
  return f;
}

/** A button running `fn` (errors go to `msg`). */
export function action(label, fn, msg, attrs = {}) {
  const b = h('button', { type: 'button', ...attrs }, label);
  b.addEventListener('click', async () => {
    b.disabled = true;
    try {
      if (msg) msg.clear();
      await fn();
    } catch (e) {
      if (msg) msg.error(e);
    } finally {
      b.disabled = false;
    }
  });
  return b;
}

/** A time for people: the ISO text as given, or "—". */
export function when(t) {
  if (!t) return '—';
  if (typeof t === 'number') return new Date(t * 1000).toISOString();
  return String(t);
}

/** Seconds as 1h30m. */
export function duration(s) {
  if (s === null || s === undefined || s === '') return '—';
  let n = Number(s);
  if (!Number.isFinite(n) || n <= 0) return n === 0 ? '0s' : String(s);
  const parts = [];
  for (const [unit, size] of [['d', 86400], ['h', 3600], ['m', 60], ['s', 1]]) {
    if (n >= size) {
      parts.push(`${Math.floor(n / size)}${unit}`);
      n %= size;
    }
  }
  return parts.join('');
}

/** Copies text to the clipboard; says whether it could. */
export async function copy(text) {
  if (!navigator.clipboard) return false;
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    return false;
  }
}
