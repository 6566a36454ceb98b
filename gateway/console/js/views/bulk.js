// "Select an action" over the ticked licenses: one bulk command for all of them.
// The ledger compares every license with the first one ticked; a selection that
// cannot take the action together is refused whole (422 incompatible-selection)
// and the console shows which licenses differ from the first, and how, on their
// rows too.

import { post, newKey, downloadServerFile } from '../api.js';
import { h, announce } from '../dom.js';
import { field, formError, clearErrors, showProblem, values, wholeNumber } from '../forms.js';
import * as format from '../format.js';

const ACTIONS = [
  ['', 'Select an action'],
  ['allocate', 'Allocate licenses'],
  ['return', 'Return allocations'],
  ['hide', 'Hide licenses'],
  ['unhide', 'Unhide licenses'],
  ['renew', 'Renew'],
  ['download', 'Download all licenses'],
];

/** The fields each action takes besides the selection. */
function fieldsOf(action) {
  switch (action) {
    case 'allocate':
      return [
        field({ label: 'License server host', name: 'host' }),
        field({ label: 'Quantity per license', name: 'quantity', hint: 'Empty: all each license has left.', attrs: { inputmode: 'numeric' } }),
      ];
    case 'return':
      return [field({ label: 'Only on license server host', name: 'host', hint: 'Empty: every allocation of each license.' })];
    case 'download':
      return [field({ label: 'License server host', name: 'host', field: 'path.host', hint: 'One file with every license allocated to it, for lmreread -c @localhost -all.' })];
    case 'renew':
      return [
        field({ label: 'New expiry date', name: 'expires_on', type: 'date' }),
        field({ label: 'New maintenance date', name: 'maintenance_until', type: 'date' }),
      ];
    default:
      return [];
  }
}

/** The bar above the list: what is selected, the action, its answer. */
export function bulkBar({ selection, itemFor, onDone }) {
  const summary = h('output', { id: 'bulk-selection', data: { field: 'license_ids' }, attrs: { tabindex: '-1', 'aria-describedby': 'bulk-selection-error' } });
  const summaryError = h('p', { class: 'field-error', id: 'bulk-selection-error', hidden: true });
  const differences = h('div', { class: 'differences' });
  const result = h('div', { attrs: { 'aria-live': 'polite' } });
  const actionField = field({ label: 'Select an action', name: 'action', options: ACTIONS });
  const extra = h('div', { class: 'form-row' });
  const apply = h('button', { type: 'submit', class: 'primary', text: 'Apply' });
  const form = h('form', { attrs: { novalidate: true, 'aria-label': 'Bulk action' } },
    formError(),
    h('div', { class: 'selection' }, h('div', {}, summary, summaryError)),
    h('div', { class: 'form-row' }, actionField, extra, h('div', { class: 'actions' }, apply)));
  const select = actionField.querySelector('select');
  select.addEventListener('change', () => {
    extra.replaceChildren(...fieldsOf(select.value));
    clearErrors(form);
  });

  const describe = (ids) => {
    if (ids.length === 0) return 'No license selected: tick the licenses to act on.';
    const first = format.licenseName(itemFor(ids[0]));
    return ids.length === 1
      ? `1 license selected: ${first}.`
      : `${ids.length} licenses selected; the others are compared with the first one, ${first}.`;
  };
  summary.textContent = describe([]);
  selection.onChange((ids) => {
    summary.textContent = describe(ids);
  });

  const run = async (action, body) => {
    apply.disabled = true;
    try {
      const answer = await post(`/bulk/${action}`, body, { idempotencyKey: newKey(`bulk-${action}`) });
      result.replaceChildren(outcome(answer, itemFor));
      await onDone(answer.position);
    } catch (problem) {
      showProblem(form, problem);
      if (problem.body && problem.body.incompatible) {
        differences.replaceChildren(incompatibility(problem.body, itemFor));
      }
    } finally {
      apply.disabled = false;
    }
  };

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    clearErrors(form);
    unmark();
    differences.replaceChildren();
    result.replaceChildren();
    const chosen = values(form);
    const action = chosen.action;
    if (!action) {
      showProblem(form, { field: 'action', message: 'choose an action' });
      return;
    }
    delete chosen.action;
    if (action === 'download') {
      serverFile(form, result, chosen.host);
      return;
    }
    if (chosen.quantity !== undefined) chosen.quantity = wholeNumber(chosen.quantity);
    const body = { license_ids: selection.ids, ...chosen };
    if (action !== 'return') {
      run(action, body);
      return;
    }
    result.replaceChildren(h('div', { class: 'panel confirm', attrs: { role: 'alertdialog', 'aria-labelledby': 'bulk-return-title' } },
      h('h3', { id: 'bulk-return-title', text: `Return the allocations of ${selection.ids.length} license(s)?` }),
      h('p', { text: 'The seats go back to the pool. You cannot undo this; remove the old license files from the license servers.' }),
      h('div', { class: 'actions' },
        h('button', { type: 'button', class: 'danger', text: 'Yes, process return', on: { click: () => run(action, body) } }),
        h('button', { type: 'button', text: 'No, keep them', on: { click: () => result.replaceChildren() } }))));
    result.querySelector('button').focus();
  });

  return h('section', { class: 'panel', attrs: { 'aria-label': 'Selected licenses' } }, form, differences, result);
}

/** Rows marked by an earlier refusal, cleared. */
function unmark() {
  for (const row of document.querySelectorAll('tr.incompatible, tr.reference')) {
    row.classList.remove('incompatible', 'reference');
    for (const note of row.querySelectorAll('.row-note')) note.remove();
  }
}

/** What differs, in words: for `binding_type` the first license's value is the one to match. */
export function difference(entry, reference) {
  const attribute = format.words(entry.attribute);
  if (entry.attribute === 'binding_type') {
    return `${attribute} is ${format.words(entry.actual)}, the first selected license (${reference}) has ${format.words(entry.expected)}`;
  }
  return `${attribute}: ${format.words(entry.actual)}, the action needs ${format.words(entry.expected)}`;
}

function incompatibility(problem, itemFor) {
  const reference = format.licenseName(itemFor(problem.reference_license_id));
  const referenceRow = document.querySelector(`tr[data-license-id="${problem.reference_license_id}"]`);
  if (referenceRow) referenceRow.classList.add('reference');
  const entries = problem.incompatible.map((entry) => {
    const name = format.licenseName(itemFor(entry.license_id));
    const text = difference(entry, reference);
    const row = document.querySelector(`tr[data-license-id="${entry.license_id}"]`);
    if (row) {
      row.classList.add('incompatible');
      row.cells[1].append(h('span', { class: 'row-note', text: `Differs: ${text}` }));
    }
    return h('li', {}, h('strong', { text: name }), `: ${text}`);
  });
  return h('div', { class: 'panel problem', attrs: { role: 'alert' } },
    h('h3', { text: `Compared with the first selected license, ${reference}:` }),
    h('ul', {}, entries),
    h('p', { text: 'Nothing was recorded. Untick these licenses, or choose another action.' }));
}

function outcome(answer, itemFor) {
  const words = { success: 'Done for every license.', partial_failure: 'Done for some licenses; see below.', failure: 'Done for none of the licenses.' };
  announce(words[answer.outcome] || answer.outcome);
  return h('div', { class: ['panel', answer.outcome === 'success' ? 'success' : 'problem'] },
    h('p', { text: words[answer.outcome] || answer.outcome }),
    h('ul', {}, answer.results.map((item) => h('li', {},
      h('strong', { text: format.licenseName(itemFor(item.license_id)) }),
      item.problem ? `: failed — ${item.problem.detail}` : `: ${item.result}`))));
}

/** "Download all licenses": the server's one file, whatever is selected. */
async function serverFile(form, result, host) {
  if (!host) {
    showProblem(form, { field: 'path.host', message: 'enter the license server' });
    return;
  }
  try {
    const file = await downloadServerFile(host);
    result.replaceChildren(h('div', { class: 'panel success' },
      h('p', { text: `Saved ${file.name}: every license allocated to ${host}. Copy it to the license server and run lmreread -c @localhost -all.` })));
  } catch (problem) {
    // "No such license server" is about the host entered.
    showProblem(form, problem.status === 404 ? { field: 'path.host', message: problem.message } : problem);
  }
}
