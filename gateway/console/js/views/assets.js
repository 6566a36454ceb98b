// Asset components ("View my products"): the account's licenses grouped by order
// number or by license access code — the portal's toggle — each group opened to
// show its licenses and where their seats are allocated.

import { get, download } from '../api.js';
import { h, table, announce } from '../dom.js';
import { showProblem, formError } from '../forms.js';
import * as format from '../format.js';

const VIEWS = [['order_number', 'Order number'], ['access_code', 'License access code']];

export async function render(main, context) {
  const groupBy = context.params.get('group_by') === 'access_code' ? 'access_code' : 'order_number';
  const includeHidden = context.params.get('include_hidden') === 'true';
  const go = (by, hidden) => context.navigate('assets', new URLSearchParams({ group_by: by, ...(hidden ? { include_hidden: 'true' } : {}) }));
  const toggle = h('form', { class: 'form-row panel', attrs: { novalidate: true, 'aria-label': 'View by' } },
    formError(),
    h('fieldset', {},
      h('legend', { text: 'View by' }),
      VIEWS.map(([value, label]) => h('label', { class: 'field-inline' },
        h('input', { type: 'radio', name: 'group_by', value, checked: value === groupBy, on: { change: () => go(value, includeHidden) } }),
        ` ${label}`))),
    h('label', { class: 'field-inline' },
      h('input', { type: 'checkbox', name: 'include_hidden', checked: includeHidden, on: { change: (event) => go(groupBy, event.target.checked) } }),
      ' Include hidden licenses'),
    h('button', { type: 'button', text: 'Export to Excel (CSV)', on: { click: () => exportCsv(toggle) } }));
  const groups = h('div');
  const more = h('button', { type: 'button', text: 'Show more', hidden: true });
  let cursor = null;
  const load = async () => {
    const page = await get('/asset-components', { group_by: groupBy, include_hidden: includeHidden || undefined, limit: 20, cursor: cursor || undefined });
    groups.append(...page.groups.map((group) => groupOf(group, groupBy)));
    if (page.groups.length === 0 && !cursor) groups.append(h('p', { class: 'empty', text: 'No licenses.' }));
    cursor = page.next_cursor;
    more.hidden = !cursor;
  };
  more.addEventListener('click', () => load().catch((problem) => showProblem(toggle, problem)));
  await load();
  if (!context.stillCurrent()) return;
  main.replaceChildren(
    h('h1', { text: 'View my products' }),
    h('p', { class: 'lead', text: 'Asset components: each license\u2019s details, by order number or by license access code.' }),
    toggle, groups, more);
}

function groupOf(group, groupBy) {
  const what = groupBy === 'order_number' ? 'Order' : 'Access code';
  return h('details', { class: 'group', data: { key: group.key } },
    h('summary', { text: `${what} ${group.key}: ${format.number(group.quantity)} seats, ${format.number(group.allocated)} allocated` }),
    table({
      caption: `Licenses of ${what.toLowerCase()} ${group.key}`,
      columns: [{ label: 'Product' }, { label: groupBy === 'order_number' ? 'License access code' : 'Order number' },
        { label: 'Quantity', num: true }, { label: 'Allocated', num: true }, { label: 'Expires' }, { label: 'Maintenance' }, { label: 'Allocated to' }],
      rows: group.licenses.map((license) => [
        [h('a', { href: `#/licenses/${license.license_id}`, text: license.feature }),
          h('span', { class: 'sub', text: `${license.product} ${license.edition} ${license.version}${license.hidden ? ' · hidden' : ''}` })],
        groupBy === 'order_number' ? license.access_code : license.order_number,
        format.number(license.quantity),
        format.number(license.allocated),
        license.expires_on || 'perpetual',
        license.maintenance_until,
        (license.allocations || []).filter((a) => a.status === 'live').map((a) => `${a.host} (${format.number(a.quantity)})`).join(', ') || '—',
      ]),
    }));
}

async function exportCsv(form) {
  try {
    const file = await download('/exports/licenses.csv', {}, 'licenses.csv');
    announce(`Saved ${file.name}.`);
  } catch (problem) {
    showProblem(form, problem);
  }
}
