// A license's history as a timeline, read from the event store: each event with
// when it was recorded, what it did, and who did it (the token's subject and
// role, kept in the event's metadata).

import { get } from '../api.js';
import { h } from '../dom.js';
import * as format from '../format.js';

const PAGE = 100;

/** What an event did, in a line. */
export function summary(event) {
  const b = event.body || {};
  switch (event.type) {
    case 'Purchased':
      return `${format.number(b.quantity)} × ${b.feature || `${b.product}_${b.edition}`}, order ${b.order_number}, ${b.expires_on ? `expires ${b.expires_on}` : 'perpetual'}${b.trial ? ', trial' : ''}`;
    case 'Activated':
      return 'activated with its access code';
    case 'Allocated':
      return `${format.number(b.quantity)} allocated to ${b.host}`;
    case 'Modified':
      return `${format.number(b.quantity)} moved from ${b.from_host} to ${b.to_host}; the old file is void`;
    case 'Returned':
      return `${format.number(b.quantity)} returned from ${b.host} to the pool`;
    case 'Hidden':
      return 'hidden from view';
    case 'Unhidden':
      return 'shown again';
    case 'Renewed':
      return [b.expires_on && `expiry moved to ${b.expires_on}`, b.maintenance_until && `maintenance moved to ${b.maintenance_until}`]
        .filter(Boolean).join('; ') || 'renewed';
    case 'Upgraded':
      return [b.to_edition && `edition → ${b.to_edition}`, b.to_version && `version → ${b.to_version}`,
        Array.isArray(b.reissued_allocations) && `${b.reissued_allocations.length} file(s) re-issued`]
        .filter(Boolean).join('; ') || 'upgraded';
    default:
      return '';
  }
}

function item(event) {
  const meta = event.metadata || {};
  return h('li', { data: { sequence: event.sequence, type: event.type } },
    h('span', { class: 'event-type', text: event.type }), ' ',
    h('span', { text: summary(event) }),
    h('div', { class: 'event-meta' },
      h('time', { attrs: { datetime: event.recorded_at }, text: format.instant(event.recorded_at) }),
      ` · by ${meta.actor || 'unknown'}${meta.actor_role ? ` (${format.words(meta.actor_role)})` : ''}`,
      ` · #${event.sequence}`));
}

/** The timeline of license `id`, with "Show more" while there are more events. */
export async function timeline(id) {
  const list = h('ol', { class: 'timeline', attrs: { 'aria-label': 'Events, oldest first' } });
  const more = h('button', { type: 'button', text: 'Show more events', hidden: true });
  let after = 0;
  const load = async () => {
    const page = await get(`/licenses/${id}/history`, { after_sequence: after, limit: PAGE });
    list.append(...page.events.map(item));
    after = page.next_after_sequence;
    more.hidden = after === undefined || after === null;
  };
  more.addEventListener('click', () => load());
  await load();
  return h('div', {}, list, more);
}
