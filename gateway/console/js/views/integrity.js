// The auditors' integrity badge: `GET /integrity` recomputes the account's hash
// chains outside the database and holds them to the newest signed checkpoint.
// The badge says what it found; a click checks again.

import * as session from '../session.js';
import { get } from '../api.js';
import { number } from '../format.js';

let badge = null;
let checked = false;

export function wire(element) {
  badge = element;
  badge.addEventListener('click', () => check());
}

/** Checks once per signed-in token: the first screen after sign-in asks. */
export function ensureChecked() {
  if (!checked) check();
}

/** Forgets the last result (another token may see another account). */
export function forget() {
  checked = false;
  if (badge) {
    badge.textContent = 'Integrity: checking…';
    badge.className = 'badge';
  }
}

/** What an integrity answer means, in words, and how it should look. */
export function describe(report) {
  const checkpoint = report.checkpoint || {};
  if (!report.intact) {
    const problems = (report.breaks || []).length + (checkpoint.problems || []).length;
    return { tone: 'bad', text: `Integrity: TAMPERED — ${number(problems)} problem(s) found` };
  }
  const chains = `${number(report.events)} events in ${number(report.streams)} chains intact`;
  switch (checkpoint.status) {
    case 'verified':
      return {
        tone: 'ok',
        text: `Integrity verified: chains and checkpoint ${checkpoint.compared_with ? checkpoint.compared_with.checkpoint : ''}`.trim(),
        title: `${chains}; ${number(checkpoint.covered_events)} covered by the signed checkpoint, ${number(checkpoint.events_after)} after it`,
      };
    case 'no_checkpoint':
      return { tone: 'warn', text: 'Integrity: chains intact, no checkpoint yet', title: chains };
    case 'no_key':
      return { tone: 'warn', text: 'Integrity: chains intact, no checkpoint key configured', title: chains };
    default:
      return { tone: 'bad', text: `Integrity: checkpoint ${checkpoint.status}`, title: chains };
  }
}

async function check() {
  const current = session.current();
  if (!badge || !current || !current.may('read_history')) return;
  checked = true;
  badge.hidden = false;
  badge.textContent = 'Integrity: checking…';
  badge.className = 'badge';
  try {
    const shown = describe(await get('/integrity'));
    badge.textContent = shown.text;
    badge.title = shown.title || '';
    badge.className = `badge ${shown.tone}`;
  } catch (problem) {
    badge.textContent = `Integrity: not checked (${problem.message})`;
    badge.className = 'badge warn';
  }
}
