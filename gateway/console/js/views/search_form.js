// "Find a license by…" with the advanced search options, "Filter by", and the
// Quick find links, as the portal has them. The search lives in the address
// (`#/licenses?find_by=product&q=XDT&filter=active`), so it can be bookmarked,
// and its names are the API's, so a refused parameter (`query.purchased_to`)
// is shown beside its input.

import { h } from '../dom.js';
import { field, formError, values } from '../forms.js';

/** The search parameters the API takes, in the order of the form. */
const SEARCH_NAMES = ['find_by', 'q', 'filter', 'edition', 'license_model', 'binding_type', 'term',
  'purchased_from', 'purchased_to', 'expires_from', 'expires_to', 'sort', 'order'];

const FIND_BY = [['product', 'Product'], ['feature', 'Feature'], ['order_number', 'Order number'],
  ['access_code', 'License access code'], ['server_host', 'License server host']];

const FILTERS = [['', 'All licenses'], ['new', 'New licenses'], ['expiring', 'Expiring licenses'],
  ['expired', 'Expired licenses'], ['available', 'Available allocations'], ['trial', 'Trial licenses'],
  ['hidden', 'All hidden'], ['active', 'All active']];

const ANY = ['', 'Any'];

/** The API query of the address's search parameters. */
export function searchQuery(params) {
  const query = {};
  for (const name of SEARCH_NAMES) {
    const value = params.get(name);
    if (value) query[name] = value;
  }
  if (!query.q) delete query.find_by;
  return query;
}

/** The search form, filled from `params`; `onSearch(params)` when submitted. */
export function searchForm(params, onSearch) {
  const value = (name) => params.get(name) || '';
  const queryField = (spec) => field({ ...spec, value: value(spec.name), field: `query.${spec.name}` });
  // The advanced options are open when the search uses one of them.
  const advancedOpen = SEARCH_NAMES.slice(3).some((name) => value(name));
  const form = h('form', { class: 'search panel', attrs: { novalidate: true, role: 'search', 'aria-label': 'Find licenses' } },
    formError(),
    h('div', { class: 'form-row' },
      field({ label: 'Find a license by…', name: 'find_by', options: FIND_BY, value: value('find_by') || 'product', field: 'query.find_by' }),
      queryField({ label: 'Search text', name: 'q', attrs: { size: 28 } }),
      queryField({ label: 'Filter by', name: 'filter', options: FILTERS }),
      h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary', text: 'Search' }))),
    h('details', { class: 'advanced', attrs: { open: advancedOpen || null } },
      h('summary', { text: 'Show advanced search options' }),
      h('div', { class: 'form-row' },
        queryField({ label: 'Edition', name: 'edition', options: [ANY, ['STD', 'STD'], ['ADV', 'ADV'], ['ENT', 'ENT'], ['PLT', 'PLT']] }),
        queryField({ label: 'License model', name: 'license_model', options: [ANY, ['user_device', 'user/device'], ['concurrent_user', 'concurrent user'], ['concurrent_system', 'concurrent system'], ['per_server', 'per server'], ['per_socket', 'per socket'], ['appliance', 'appliance']] }),
        queryField({ label: 'Binding type', name: 'binding_type', options: [ANY, ['host_name', 'host name'], ['mac_address', 'MAC address'], ['hardware_serial', 'hardware serial'], ['other_id', 'other id']] }),
        queryField({ label: 'Term', name: 'term', options: [ANY, ['term', 'term'], ['perpetual', 'perpetual']] })),
      h('div', { class: 'form-row' },
        queryField({ label: 'Purchased from', name: 'purchased_from', type: 'date' }),
        queryField({ label: 'Purchased to', name: 'purchased_to', type: 'date' }),
        queryField({ label: 'Expires from', name: 'expires_from', type: 'date' }),
        queryField({ label: 'Expires to', name: 'expires_to', type: 'date' }),
        queryField({ label: 'Sort by', name: 'sort', options: [['', 'Purchase date'], ['expires_on', 'Expiry date'], ['order_number', 'Order number'], ['product', 'Product'], ['quantity', 'Quantity']] }),
        queryField({ label: 'Order', name: 'order', options: [['', 'Default'], ['asc', 'Ascending'], ['desc', 'Descending']] }))),
    h('div', { class: 'quick-find' },
      h('span', { text: 'Quick find:' }),
      h('button', { type: 'button', class: 'link', text: 'All active', on: { click: () => onSearch(new URLSearchParams({ filter: 'active' })) } }),
      h('button', { type: 'button', class: 'link', text: 'All hidden', on: { click: () => onSearch(new URLSearchParams({ filter: 'hidden' })) } })));
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const chosen = values(form);
    if (!chosen.q) delete chosen.find_by;
    onSearch(new URLSearchParams(chosen));
  });
  return form;
}
