// Finding licenses: the search form, the list with a check box per license (the
// order of ticking matters: the first is the one a bulk action compares the
// others with), "Select an action", paging, and "Export to Excel (CSV)". With an
// as-of instant (or an auditor's token), the list as it was then.
//
// The list shows a page at a time, whatever the account's size. A page as of an
// instant costs the ledger a replay of the account's events (seconds on an
// account of tens of thousands of licenses, whatever the page's length), so the
// console asks for the most the API gives at once and shows it a page at a time:
// one replay serves ten pages of "Show more".

import { get, getAsOf, download, ownWrites } from '../api.js';
import { h, put, add, announce, rebuilding } from '../dom.js';
import { showProblem } from '../forms.js';
import * as format from '../format.js';
import { searchForm, searchQuery } from './search_form.js';
import { bulkBar } from './bulk.js';

const PAGE = 50;
/** Lines asked for per replay of an as-of list (the API's most). */
const HISTORY_FETCH = 500;

export async function render(main, context) {
  const { session, params } = context;
  const history = Boolean(context.asOf) || !session.may('read_models');
  const query = searchQuery(params);
  const form = searchForm(params, (chosen) => context.navigate('licenses', chosen));
  const selection = new Selection();
  const items = new Map();
  const tbody = h('tbody');
  const more = h('button', { type: 'button', text: 'Show more', hidden: true });
  const count = h('p', { class: 'hint', attrs: { 'aria-live': 'polite' } });
  const results = h('section', { attrs: { 'aria-label': 'Licenses found' } });
  let cursor = null;
  // Lines fetched but not shown yet (an as-of list's replay answers ten pages).
  let waiting = [];

  const fetchLines = async (append, minPosition) => {
    if (append && waiting.length > 0) return { items: [], next_cursor: cursor };
    const page = { ...query, cursor: append ? cursor : undefined };
    return history
      ? getAsOf('/history/licenses', { ...page, limit: HISTORY_FETCH }, context.asOf)
      : get('/licenses', { ...page, limit: PAGE, min_position: minPosition ?? ownWrites() });
  };

  const load = async (append, minPosition) => {
    const answer = await fetchLines(append, minPosition);
    if (!append) {
      tbody.replaceChildren();
      items.clear();
      selection.clear();
      waiting = [];
    }
    waiting.push(...answer.items);
    for (const item of waiting.splice(0, PAGE)) {
      items.set(item.license_id, item);
      tbody.append(row(item, selection, !history && session.may('change')));
    }
    cursor = answer.next_cursor;
    const moreBelow = Boolean(cursor) || waiting.length > 0;
    more.hidden = !moreBelow;
    count.textContent = `${format.number(items.size)} license${items.size === 1 ? '' : 's'} shown${moreBelow ? '; more below' : ''}.`;
    return answer;
  };
  more.addEventListener('click', () => load(true).catch((problem) => showProblem(form, problem)));

  const heading = h('h1', { text: 'Licenses' });
  const wait = history ? rebuilding() : null;
  put(main, heading, form, wait);
  let answer;
  try {
    answer = await load(false);
  } catch (problem) {
    if (!problem.status || problem.status >= 500) throw problem;
    if (!context.stillCurrent()) return;
    showProblem(form, problem);
    return;
  }
  if (!context.stillCurrent()) return;
  if (wait) wait.remove();
  const bar = !history && session.may('change')
    ? bulkBar({
      selection,
      itemFor: (id) => items.get(id),
      onDone: async (position) => {
        await load(false, position);
        announce('The list shows the result.');
      },
    })
    : null;
  results.append(
    h('table', {},
      h('caption', { text: history ? `Licenses as of ${format.instant(answer.as_of)}` : 'Licenses' }),
      h('thead', {}, h('tr', {}, HEADERS.map(([label, num]) => h('th', { class: num ? 'num' : null, attrs: { scope: 'col' }, text: label })))),
      tbody),
    count,
    more);
  add(main,
    history ? h('p', { class: 'notice', text: `As of ${format.instant(answer.as_of)}: the list rebuilt from the events recorded by then.` }) : null,
    bar,
    results,
    history ? null : exportButton(query));
}

const HEADERS = [['Select', false], ['Product', false], ['Order number', false], ['Access code', false],
  ['Quantity', true], ['Allocated', true], ['Available', true], ['Expires', false], ['Status', false]];

/** The ticked licenses, in the order they were ticked. */
class Selection {
  constructor() {
    this.ids = [];
    this.listeners = [];
  }

  set(id, chosen) {
    this.ids = this.ids.filter((other) => other !== id);
    if (chosen) this.ids.push(id);
    for (const listener of this.listeners) listener(this.ids);
  }

  clear() {
    this.ids = [];
    for (const listener of this.listeners) listener(this.ids);
  }

  onChange(listener) {
    this.listeners.push(listener);
  }
}

function row(item, selection, selectable) {
  const name = format.licenseName(item);
  const box = h('input', {
    type: 'checkbox',
    disabled: !selectable,
    attrs: { 'aria-label': `Select ${name}` },
    data: { licenseId: item.license_id },
    on: { change: (event) => selection.set(item.license_id, event.target.checked) },
  });
  const band = item.expiry_band;
  return h('tr', { data: { licenseId: item.license_id } },
    h('td', {}, box),
    h('td', {},
      h('a', { href: `#/licenses/${item.license_id}`, text: item.feature }),
      item.new ? h('span', { class: 'new', text: '(New)' }) : null,
      h('span', { class: 'sub', text: `${item.product} ${item.edition} ${item.version} · ${format.words(item.license_model)} · ${format.words(item.binding_type)}` })),
    h('td', { class: 'nowrap', text: item.order_number }),
    h('td', { class: 'nowrap', text: item.access_code }),
    h('td', { class: 'num', text: format.number(item.quantity) }),
    h('td', { class: 'num', text: format.number(item.allocated) }),
    h('td', { class: 'num', text: format.number(item.available) }),
    h('td', {},
      item.expires_on
        ? h('span', { class: band ? `days-${band}` : null, text: format.daysLeft(item.days_to_expiry), attrs: { title: `expires on ${item.expires_on}` } })
        : 'perpetual'),
    h('td', {},
      item.new ? h('span', { class: 'tag new-tag', text: 'new' }) : null,
      item.trial ? h('span', { class: 'tag trial', text: 'trial' }) : null,
      item.hidden ? h('span', { class: 'tag hidden-tag', text: 'hidden' }) : null,
      item.activated_at ? null : h('span', { class: 'tag', text: 'not activated' })));
}

function exportButton(query) {
  const problem = h('p', { class: 'form-error', attrs: { role: 'alert' } });
  const button = h('button', {
    type: 'button',
    text: 'Export to Excel (CSV)',
    on: {
      click: async () => {
        problem.textContent = '';
        try {
          const file = await download('/exports/licenses.csv', query, 'licenses.csv');
          announce(`Saved ${file.name}.`);
        } catch (refused) {
          problem.textContent = refused.message;
        }
      },
    },
  });
  return h('div', { class: 'actions' }, button, h('span', { class: 'hint', text: 'Every license of this search, one line each.' }), problem);
}
