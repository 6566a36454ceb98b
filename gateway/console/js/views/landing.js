// The landing page, as the portal's: the five newest licenses of the last 30
// days with a green bar and "(New)", and the expiring term licenses with a red
// (0–30 days) or orange (31–90 days) bar, days left and allocated/total. With an
// as-of instant (or an auditor's token), the page as it was then, rebuilt from
// the events recorded by that instant.

import { get, getAsOf, ownWrites } from '../api.js';
import { h, put, table, hiddenText, rebuilding } from '../dom.js';
import * as format from '../format.js';

export async function render(main, context) {
  const { session } = context;
  const history = Boolean(context.asOf) || !session.may('read_models');
  if (history && !context.landing) put(main, h('h1', { text: 'Manage licenses' }), rebuilding());
  // Just after sign-in, the page the sign-in read.
  const page = context.landing || (history
    ? await getAsOf('/history/landing-page', {}, context.asOf)
    : await get('/landing-page', { min_position: ownWrites() }));
  if (!context.stillCurrent()) return;
  const canAllocate = !history && session.may('change');
  put(main,
    h('h1', { text: 'Manage licenses' }),
    history ? h('p', { class: 'notice', text: `As of ${format.instant(page.as_of)}: the landing page rebuilt from the events recorded by then.` }) : null,
    h('div', { class: 'landing' },
      h('section', { attrs: { 'aria-labelledby': 'new-title' }, data: { section: 'new' } },
        h('h2', { id: 'new-title', text: 'New licenses' }),
        h('p', { class: 'lead', text: 'Purchased in the last 30 days: the five most recent.' }),
        newLicenses(page.new_licenses, canAllocate),
        everyOne('filter=new', 'every new license', page.new_licenses)),
      h('section', { attrs: { 'aria-labelledby': 'expiring-title' }, data: { section: 'expiring' } },
        h('h2', { id: 'expiring-title', text: 'Expiring term licenses' }),
        h('p', { class: 'lead', text: 'Term licenses expiring within 90 days, the five most recently purchased: red within 30 days, orange within 31 to 90.' }),
        expiringLicenses(page.expiring_licenses),
        everyOne('filter=expiring&sort=expires_on&order=asc', 'every expiring term license, soonest first', page.expiring_licenses))),
    h('p', {}, h('a', { href: '#/licenses?filter=active', text: 'Upgrade my licenses' }),
      h('span', { class: 'hint', text: ': open a license, then Select an action → Upgrade.' })));
}

/**
 * The link under a section to the license list filtered the same way: a section
 * shows five, and a large account has hundreds more (the expiring ones soonest
 * first: the section's five are the most recently purchased, not the most
 * urgent). With an as-of instant the list is as of it too.
 */
function everyOne(search, what, shown) {
  if (shown.length === 0) return null;
  return h('p', { class: 'more' }, h('a', { href: `#/licenses?${search}`, text: `See ${what}` }),
    h('span', { class: 'hint', text: ' in the license list.' }));
}

function licenseLink(item) {
  return h('a', { href: `#/licenses/${item.license_id}`, text: item.feature });
}

function newLicenses(items, canAllocate) {
  return table({
    caption: 'New licenses',
    empty: 'No license was purchased in the last 30 days.',
    columns: [
      { label: '', class: 'bar-cell' },
      { label: 'Product' },
      { label: 'Order number', class: 'nowrap' },
      { label: 'Purchased' },
      { label: 'Allocated', num: true },
      { label: 'Action' },
    ],
    rows: items.map((item) => ({
      data: { licenseId: item.license_id },
      cells: [
        h('span', { class: 'bar bar-green' }, hiddenText('new')),
        [licenseLink(item), h('span', { class: 'new', text: '(New)' }),
          h('span', { class: 'sub', text: `${item.product} ${item.edition}` })],
        item.order_number,
        h('span', { class: 'nowrap', text: format.dayOf(item.purchased_at), attrs: { title: format.instant(item.purchased_at) } }),
        format.allocatedOf(item.allocated, item.quantity),
        canAllocate && item.allocated < item.quantity
          ? h('a', { class: 'button', href: `#/licenses/${item.license_id}?action=allocate`, text: 'Allocate licenses', attrs: { 'aria-label': `Allocate licenses of ${item.feature} (${item.order_number})` } })
          : '',
      ],
    })),
  });
}

function expiringLicenses(items) {
  return table({
    caption: 'Expiring term licenses',
    empty: 'No term license expires within 90 days.',
    columns: [
      { label: '', class: 'bar-cell' },
      { label: 'Product' },
      { label: 'Expires' },
      { label: 'Allocated', num: true },
    ],
    rows: items.map((item) => ({
      data: { licenseId: item.license_id, band: item.band },
      cells: [
        h('span', { class: `bar bar-${item.band}` }, hiddenText(`${item.band}: ${item.band === 'red' ? 'within 30 days' : '31 to 90 days'}`)),
        // The section answers no order number; on a large account many lines
        // name the same feature, and the purchase day tells them apart.
        [licenseLink(item), h('span', { class: 'sub', text: `bought ${format.dayOf(item.purchased_at)}` })],
        h('span', { class: `days-${item.band}`, text: format.daysLeft(item.days_left), attrs: { title: `expires on ${item.expires_on}` } }),
        format.allocatedOf(item.allocated, item.quantity),
      ],
    })),
  });
}
