// How values read on screen: numbers with separators, dates as the ledger gives
// them (ISO, unambiguous across locales), instants in the reader's time zone,
// and the ledger's codes in words.

const NUMBER = new Intl.NumberFormat('en-US');

export function number(value) {
  return value === null || value === undefined ? '—' : NUMBER.format(value);
}

/** `2026-12-03T13:02:25.5Z` → `2026-12-03 13:02:25` in the reader's time zone. */
export function instant(value) {
  if (!value) return '—';
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) return value;
  const pad = (n) => String(n).padStart(2, '0');
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())} ` +
    `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}`;
}

/** The local day of an RFC 3339 instant. */
export function dayOf(value) {
  return value ? instant(value).slice(0, 10) : '—';
}

/** The local `datetime-local` value of an RFC 3339 instant. */
export function localInputValue(value) {
  return value ? instant(value).replace(' ', 'T') : '';
}

/** Days left as the portal's "Expires" column says it. */
export function daysLeft(days) {
  if (days === null || days === undefined) return 'perpetual';
  if (days < 0) return `expired ${-days} ${-days === 1 ? 'day' : 'days'} ago`;
  return `${days} ${days === 1 ? 'day' : 'days'}`;
}

export function allocatedOf(allocated, quantity) {
  return `${number(allocated)} / ${number(quantity)}`;
}

const WORDS = {
  user_device: 'user/device',
  concurrent_user: 'concurrent user',
  concurrent_system: 'concurrent system',
  per_server: 'per server',
  per_socket: 'per socket',
  appliance: 'appliance',
  host_name: 'host name',
  mac_address: 'MAC address',
  hardware_serial: 'hardware serial',
  other_id: 'other id',
  binding_type: 'binding type',
  allocated: 'allocation',
  hidden: 'visibility',
  term: 'term',
  license: 'license',
  read_only: 'read-only',
};

/** A code of the ledger (`mac_address`, `binding_type`) in words. */
export function words(code) {
  if (code === null || code === undefined) return '—';
  return WORDS[code] || String(code).replace(/_/g, ' ');
}

/** A license as people name it: feature and order number. */
export function licenseName(license) {
  if (!license) return 'a license';
  return `${license.feature} (${license.order_number})`;
}

export function shortId(id) {
  return id ? id.slice(-8) : '';
}
