// Building the page element by element. Text always goes in as text
// (`textContent` / text nodes), never as markup, so nothing the ledger returns
// can become a tag or a script.

const SVG_NS = 'http://www.w3.org/2000/svg';

/**
 * An HTML element. `props`: `class`, `text`, `attrs` (attributes), `on` (event
 * listeners), `data` (data-* attributes) and the properties `id`, `type`,
 * `name`, `value`, `checked`, `disabled`, `hidden`, `href`, `htmlFor`.
 */
export function h(tag, props = {}, ...children) {
  const element = document.createElement(tag);
  apply(element, props);
  element.append(...flatten(children));
  return element;
}

/** An SVG element with its attributes. */
export function svg(tag, attrs = {}, ...children) {
  const element = document.createElementNS(SVG_NS, tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value !== undefined && value !== null) element.setAttribute(name, String(value));
  }
  element.append(...flatten(children));
  return element;
}

const PROPERTIES = ['id', 'type', 'name', 'value', 'checked', 'disabled', 'hidden', 'href', 'htmlFor', 'min', 'max', 'step', 'required', 'placeholder'];

function apply(element, props) {
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined || value === null) continue;
    if (key === 'class') element.className = Array.isArray(value) ? value.filter(Boolean).join(' ') : value;
    else if (key === 'text') element.textContent = String(value);
    else if (key === 'attrs') {
      for (const [name, attr] of Object.entries(value)) {
        if (attr !== undefined && attr !== null && attr !== false) element.setAttribute(name, String(attr));
      }
    } else if (key === 'data') {
      for (const [name, data] of Object.entries(value)) element.dataset[name] = String(data);
    } else if (key === 'on') {
      for (const [event, listener] of Object.entries(value)) element.addEventListener(event, listener);
    } else if (PROPERTIES.includes(key)) element[key] = value;
    else throw new Error(`h(): unknown property ${key}`);
  }
}

function flatten(children) {
  const out = [];
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    out.push(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return out;
}

/** Replaces `element`'s children (skipping null and false, flattening arrays). */
export function put(element, ...children) {
  element.replaceChildren(...flatten(children));
}

/** Appends to `element` (skipping null and false, flattening arrays). */
export function add(element, ...children) {
  element.append(...flatten(children));
}

/** Text only a screen reader reads. */
export function hiddenText(text) {
  return h('span', { class: 'visually-hidden', text });
}

/** A table: `columns` are `{label, num}`; `rows` are arrays of cells (nodes or text) or `{cells, class, data}`. */
export function table({ caption, columns, rows, empty }) {
  if (rows.length === 0 && empty) return h('p', { class: 'empty', text: empty });
  return h('table', {},
    caption ? h('caption', { text: caption }) : null,
    h('thead', {}, h('tr', {}, columns.map((column) =>
      h('th', { class: [column.num && 'num', column.class], attrs: { scope: 'col' } }, column.label)))),
    h('tbody', {}, rows.map((row) => {
      const cells = Array.isArray(row) ? row : row.cells;
      return h('tr', Array.isArray(row) ? {} : { class: row.class, data: row.data },
        cells.map((cell, i) => h('td', { class: [columns[i].num && 'num', columns[i].class] }, cell)));
    })));
}

/**
 * What an as-of view shows while the ledger rebuilds it: the replay of the
 * account's events takes seconds on an account of tens of thousands of licenses.
 */
export function rebuilding() {
  return h('p', { class: 'notice', attrs: { role: 'status' }, data: { rebuilding: 'true' },
    text: 'Rebuilding the account from its events as of that instant… On an account of tens of thousands of licenses this takes several seconds.' });
}

/** Says `message` in the status line (read out by screen readers). */
export function announce(message) {
  const status = document.getElementById('status');
  if (status) status.textContent = message;
}
