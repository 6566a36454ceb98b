// The console's only way to the ledger: the JSON API of the signed-in account,
// with the token as `Authorization: Bearer`. Every refusal arrives as a
// `Problem` (RFC 9457 problem+json), whose `field` says which input to show it
// next to.

import * as session from './session.js';

/** A refused request: its status and problem+json body. */
export class Problem extends Error {
  constructor(status, body) {
    super(body.detail || body.title || `the ledger answered ${status}`);
    this.status = status;
    this.body = body;
    this.field = body.field || null;
  }
}

/** `/v1/accounts/{account}` + `path`, with the query's non-empty values. */
export function accountUrl(path, query = {}) {
  const current = session.current();
  if (!current) throw new Problem(401, { detail: 'sign in first', field: 'header.authorization' });
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(query)) {
    if (value !== undefined && value !== null && value !== '') search.append(name, String(value));
  }
  const suffix = search.toString() ? `?${search}` : '';
  return `/v1/accounts/${encodeURIComponent(current.account)}${path}${suffix}`;
}

async function send(method, url, { body, headers = {} } = {}) {
  const current = session.current();
  const request = { method, headers: { ...headers } };
  if (current) request.headers.Authorization = `Bearer ${current.token}`;
  if (body !== undefined) {
    request.headers['Content-Type'] = 'application/json';
    request.body = JSON.stringify(body);
  }
  const response = await fetch(url, request);
  if (!response.ok && response.status !== 304) {
    const text = await response.text();
    let problem;
    try {
      problem = JSON.parse(text);
    } catch {
      problem = { detail: text || response.statusText };
    }
    const refused = new Problem(response.status, problem);
    if (response.status === 401) {
      window.dispatchEvent(new CustomEvent('console:unauthenticated', { detail: refused }));
    }
    throw refused;
  }
  return response;
}

/** GET `path` of the account as JSON. */
export async function get(path, query = {}) {
  try {
    const response = await send('GET', accountUrl(path, query), { headers: { Accept: 'application/json' } });
    return response.json();
  } catch (problem) {
    // A remembered write this ledger does not know (its store was made anew):
    // forget it rather than fail every read.
    if (problem.field === 'query.min_position' && query.min_position === ownWrites()) {
      session.forgetWrites();
      return get(path, { ...query, min_position: undefined });
    }
    throw problem;
  }
}

/**
 * POST a command. `ifMatch` is the license version the page showed (a change
 * made meanwhile answers 412 instead of acting on a state nobody saw);
 * `idempotencyKey` makes a retried or double-clicked submission record once.
 */
export async function post(path, body, { ifMatch, idempotencyKey } = {}) {
  const headers = { Accept: 'application/json' };
  if (ifMatch !== undefined && ifMatch !== null) headers['If-Match'] = `"${ifMatch}"`;
  if (idempotencyKey) headers['Idempotency-Key'] = idempotencyKey;
  const response = await send('POST', accountUrl(path), { body, headers });
  const answer = await response.json();
  if (Number.isInteger(answer.position)) session.wrote(answer.position);
  return answer;
}

/**
 * The position of this tab's last command, as `min_position` for a read-model
 * query: the read models are built from the stream a moment after a command,
 * and a person who just hid a license must not find it in the list still.
 */
export function ownWrites() {
  return session.lastWrite() || undefined;
}

/** A fresh Idempotency-Key for one submission. */
export function newKey(what) {
  return `console-${what}-${crypto.randomUUID()}`;
}

/**
 * Fetches a file of the account (a license file, a CSV) with the token and hands
 * it to the browser as a download. Answers its name and text.
 */
export async function download(path, query, fallbackName) {
  const response = await send('GET', accountUrl(path, query));
  const disposition = response.headers.get('Content-Disposition') || '';
  const named = /filename="([^"]+)"/.exec(disposition);
  const name = named ? named[1] : fallbackName;
  const blob = await response.blob();
  const url = URL.createObjectURL(blob);
  const link = document.createElement('a');
  link.href = url;
  link.download = name;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
  return { name, text: await blob.text() };
}


/**
 * A history view's answers for an instant that is past, kept in this tab: each
 * costs the ledger a replay of the account's events (seconds on a large
 * account), and what was recorded by a past instant does not change, so going
 * back to a page of the same instant asks the ledger again for nothing. An
 * instant counts as past once SETTLED_MS have gone by (a transaction that began
 * before it may still be committing). "Now" is never kept; signing out forgets
 * them all.
 */
const pastAnswers = new Map();
const PAST_ANSWERS_KEPT = 20;
const SETTLED_MS = 10_000;

/** Forgets the kept history answers (on signing out). */
export function forgetPastAnswers() {
  pastAnswers.clear();
}

/**
 * GET a history view (`/history/…`) as of `asOf` (RFC 3339; null: now). A
 * refused instant is shown beside the as-of picker, where it was entered.
 */
export async function getAsOf(path, query, asOf) {
  const current = session.current();
  const past = asOf && current && Date.now() - Date.parse(asOf) > SETTLED_MS;
  const key = past ? JSON.stringify([current.account, path, query, asOf]) : null;
  if (key && pastAnswers.has(key)) return pastAnswers.get(key);
  try {
    const answer = await get(path, { ...query, as_of: asOf || undefined });
    if (key) {
      pastAnswers.set(key, answer);
      if (pastAnswers.size > PAST_ANSWERS_KEPT) pastAnswers.delete(pastAnswers.keys().next().value);
    }
    return answer;
  } catch (problem) {
    if (problem.field === 'query.as_of') {
      window.dispatchEvent(new CustomEvent('console:as-of-refused', { detail: problem }));
    }
    throw problem;
  }
}

/** Downloads the one file holding every live allocation on license server `host` ("Download all licenses"). */
export function downloadServerFile(host) {
  return download(`/license-servers/${encodeURIComponent(host)}/license-file`, { min_position: ownWrites() }, `${host}.lic`);
}
