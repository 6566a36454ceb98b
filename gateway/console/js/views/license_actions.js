// A license's actions, as the portal runs them: allocate with a confirmation
// ("Yes, create license file" / "No, modify the allocation") and then the
// download; modify the same way; return with the "cannot undo" confirmation;
// hide and unhide; renew; upgrade; activate. Every command carries the version
// the page showed (`If-Match`) and a fresh `Idempotency-Key`, so a change made
// meanwhile is refused rather than overridden, and a double click records once.

import { post, newKey, Problem } from '../api.js';
import { h, put, announce } from '../dom.js';
import { field, formError, clearErrors, showProblem, values, wholeNumber } from '../forms.js';
import * as format from '../format.js';

const EDITIONS = [['', 'Keep the edition'], ['STD', 'STD'], ['ADV', 'ADV'], ['ENT', 'ENT'], ['PLT', 'PLT']];

export function actionsPanel(page) {
  const select = h('select', { id: 'license-action', name: 'action' });
  const area = h('div');
  const chooser = h('form', { class: 'form-row', attrs: { novalidate: true, 'aria-label': 'Choose an action' } },
    h('div', { class: 'field' }, h('label', { htmlFor: 'license-action', text: 'Select an action' }), select),
    h('div', { class: 'actions' }, h('button', { type: 'submit', text: 'Continue' })));
  chooser.addEventListener('submit', (event) => {
    event.preventDefault();
    open(select.value);
  });
  const element = h('section', { class: 'panel', attrs: { 'aria-labelledby': 'actions-title' } },
    h('h2', { id: 'actions-title', text: 'Actions' }), chooser, area);

  const update = () => {
    const license = page.license();
    const chosen = select.value;
    const options = [['', 'Select an action']];
    if (!license.activated_at) options.push(['activate', 'Activate']);
    options.push(['allocate', 'Allocate licenses'], ['modify', 'Modify allocations'], ['return', 'Return allocations']);
    options.push(license.hidden ? ['unhide', 'Unhide license'] : ['hide', 'Hide license']);
    options.push(['renew', 'Renew'], ['upgrade', 'Upgrade']);
    select.replaceChildren(...options.map(([value, text]) => h('option', { value, text })));
    if (options.some(([value]) => value === chosen)) select.value = chosen;
  };

  const open = (kind) => {
    const panel = PANELS[kind];
    if (!panel) {
      area.replaceChildren();
      return;
    }
    const shown = panel(page, () => area.replaceChildren());
    if (!shown) return;
    select.value = kind;
    area.replaceChildren(shown);
    const first = shown.querySelector('input, select, button');
    if (first) first.focus();
  };

  // The page calls `update` once it has read the license, and after each command.
  return { element, open, update };
}

/**
 * One command's steps: a form (`fields`), an optional confirmation
 * (`confirm(chosen)` → `{title, text, yes, no, danger}`), the command (`send`),
 * and what to show when it is done (`done(answer)`).
 */
function flow(page, close, { title, intro, fields = [], submit, confirm, send, done }) {
  const form = h('form', { attrs: { novalidate: true, 'aria-labelledby': 'action-title' } },
    formError(),
    h('div', { class: 'form-row' }, fields),
    h('div', { class: 'actions' },
      h('button', { type: 'submit', class: 'primary', text: submit }),
      h('button', { type: 'button', text: 'Cancel', on: { click: close } })));
  const step = h('div');
  const box = h('div', { class: 'panel' }, h('h3', { id: 'action-title', text: title }), intro ? h('p', { text: intro }) : null, form, step);

  const showForm = (problem) => {
    form.hidden = false;
    step.replaceChildren();
    if (problem) showProblem(form, problem);
  };

  const perform = async (chosen, key) => {
    step.replaceChildren(h('p', { text: 'Working…' }));
    try {
      const answer = await send(chosen, key);
      put(box, h('div', { class: 'panel success', attrs: { role: 'status' } }, done(answer)));
      const first = box.querySelector('button');
      if (first) first.focus();
      await page.refresh(answer.position);
    } catch (problem) {
      if (!(problem instanceof Problem)) throw problem;
      if (problem.status === 412) {
        await page.refresh();
        showForm({ message: 'This license changed since the page was read; it has been read again. Check it and try again.' });
        return;
      }
      showForm(problem);
    }
  };

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    clearErrors(form);
    const chosen = values(form);
    const key = newKey('command');
    if (!confirm) {
      perform(chosen, key);
      return;
    }
    const question = confirm(chosen);
    form.hidden = true;
    const no = h('button', { type: 'button', text: question.no, on: { click: () => { showForm(); form.querySelector('input, select').focus(); } } });
    const yes = h('button', { type: 'button', class: question.danger ? 'danger' : 'primary', text: question.yes, on: { click: () => perform(chosen, key) } });
    step.replaceChildren(h('div', { class: 'panel confirm', attrs: { role: 'alertdialog', 'aria-labelledby': 'confirm-title', 'aria-describedby': 'confirm-text' } },
      h('h3', { id: 'confirm-title', text: question.title }),
      h('p', { id: 'confirm-text', text: question.text }),
      h('div', { class: 'actions' }, yes, no)));
    yes.focus();
  });
  return box;
}

/** A command on this license, at the version the page showed. */
function command(page, path, body, key) {
  const license = page.license();
  return post(`/licenses/${license.license_id}${path}`, body, { ifMatch: license.last_sequence, idempotencyKey: key });
}

/** "Download license file" for the allocation a command created. */
function downloadStep(page, answer, text) {
  const problem = h('p', { class: 'form-error', attrs: { role: 'alert' } });
  return [
    h('h3', { text: 'License file created' }),
    h('p', { text }),
    h('div', { class: 'actions' },
      h('button', {
        type: 'button',
        class: 'primary',
        text: 'Download license file',
        on: {
          click: async () => {
            problem.textContent = '';
            try {
              await page.downloadFile(answer.allocation_id, answer.position);
            } catch (refused) {
              problem.textContent = refused.message;
            }
          },
        },
      })),
    problem,
    h('p', { class: 'hint', text: 'Copy the file to the license server (keep the .lic extension), then run lmreread -c @localhost -all.' }),
  ];
}

/** The selected live allocations, or null after saying what to select. */
function selected(page, { one, verb }) {
  const chosen = page.selectedAllocations().filter((a) => a.status === 'live');
  const error = page.allocationsError();
  if (chosen.length === 0 || (one && chosen.length > 1)) {
    error.textContent = one
      ? `Select the check box of the one allocation to ${verb}.`
      : `Select the check box of each allocation to ${verb}.`;
    error.scrollIntoView({ block: 'center' });
    return null;
  }
  error.textContent = '';
  return chosen;
}

const PANELS = {
  allocate: (page, close) => {
    const license = page.license();
    return flow(page, close, {
      title: 'Allocate licenses',
      intro: `${format.number(license.available)} of ${format.number(license.quantity)} are available. Enter the license server and how many to allocate to it.`,
      fields: [
        field({ label: 'License server host', name: 'host', hint: `A ${format.words(license.binding_type)}, exactly as the server reports it.` }),
        field({ label: 'Quantity', name: 'quantity', attrs: { inputmode: 'numeric' } }),
      ],
      submit: 'Create license file',
      confirm: (chosen) => ({
        title: 'Create the license file?',
        text: `${chosen.quantity || '?'} of ${format.licenseName(license)} to ${chosen.host || '?'}.`,
        yes: 'Yes, create license file',
        no: 'No, modify the allocation',
      }),
      send: (chosen, key) => command(page, '/allocations', { host: chosen.host ?? '', quantity: wholeNumber(chosen.quantity ?? '') }, key),
      done: (answer) => downloadStep(page, answer, `Allocated to the license server; allocation …${format.shortId(answer.allocation_id)}.`),
    });
  },

  modify: (page, close) => {
    const chosen = selected(page, { one: true, verb: 'modify' });
    if (!chosen) return null;
    const [allocation] = chosen;
    return flow(page, close, {
      title: 'Modify allocations',
      intro: `Move the allocation of ${format.number(allocation.quantity)} on ${allocation.host} to another license server. Its current file becomes void.`,
      fields: [field({ label: 'New license server host', name: 'new_host' })],
      submit: 'Modify license file',
      confirm: (typed) => ({
        title: 'Create the license file?',
        text: `${format.number(allocation.quantity)} moves from ${allocation.host} to ${typed.new_host || '?'}; the file on ${allocation.host} becomes void.`,
        yes: 'Yes, create license file',
        no: 'No, modify the allocation',
      }),
      send: (typed, key) => command(page, `/allocations/${allocation.allocation_id}/modify`, { new_host: typed.new_host ?? '' }, key),
      done: (answer) => downloadStep(page, answer, `Moved; the new allocation is …${format.shortId(answer.allocation_id)}. Remove the old file from ${allocation.host}.`),
    });
  },

  return: (page, close) => {
    const chosen = selected(page, { one: false, verb: 'return' });
    if (!chosen) return null;
    const list = chosen.map((a) => `${format.number(a.quantity)} on ${a.host}`).join(', ');
    return flow(page, close, {
      title: 'Return allocations',
      intro: `Return ${list} to the pool.`,
      submit: 'Return allocations',
      confirm: () => ({
        title: 'Return these allocations?',
        text: `You cannot undo this. ${list} go back to the pool, to allocate again later; remove the old license files from the license servers.`,
        yes: 'Yes, process return',
        no: 'No, keep the allocations',
        danger: true,
      }),
      send: async (_, key) => {
        let answer;
        for (const allocation of chosen) {
          answer = await command(page, `/allocations/${allocation.allocation_id}/return`, undefined, `${key}-${allocation.allocation_id}`);
          page.license().last_sequence = answer.version;
        }
        return answer;
      },
      done: () => [h('h3', { text: 'Returned' }), h('p', { text: `${list} returned to the pool.` })],
    });
  },

  hide: (page, close) => visibility(page, close, 'hide'),
  unhide: (page, close) => visibility(page, close, 'unhide'),

  renew: (page, close) => {
    const license = page.license();
    return flow(page, close, {
      title: 'Renew',
      intro: license.expires_on
        ? `Expires on ${license.expires_on}; maintenance until ${license.maintenance_until}. Dates only move forward.`
        : `A perpetual license renews its maintenance only (now until ${license.maintenance_until}).`,
      fields: [
        license.expires_on ? field({ label: 'New expiry date', name: 'expires_on', type: 'date' }) : null,
        field({ label: 'New maintenance date', name: 'maintenance_until', type: 'date' }),
      ],
      submit: 'Renew',
      send: (chosen, key) => command(page, '/renew', chosen, key),
      done: () => [h('h3', { text: 'Renewed' }), h('p', { text: 'Live allocations got re-issued license files: download them below.' })],
    });
  },

  upgrade: (page, close) => {
    const license = page.license();
    return flow(page, close, {
      title: 'Upgrade',
      intro: `Now ${license.edition} ${license.version}. Editions rank STD < ADV < ENT < PLT; a version upgrade needs maintenance through today.`,
      fields: [
        field({ label: 'New edition', name: 'edition', options: EDITIONS }),
        field({ label: 'New version', name: 'version', hint: 'e.g. 7.16; empty keeps it' }),
      ],
      submit: 'Upgrade',
      send: (chosen, key) => command(page, '/upgrade', chosen, key),
      done: () => [h('h3', { text: 'Upgraded' }), h('p', { text: 'Live allocations got re-issued license files: download them below.' })],
    });
  },

  activate: (page, close) => flow(page, close, {
    title: 'Activate',
    intro: 'Enter the license access code from the order confirmation.',
    fields: [field({ label: 'License access code', name: 'access_code' })],
    submit: 'Activate',
    send: (chosen, key) => command(page, '/activate', { access_code: chosen.access_code ?? '' }, key),
    done: () => [h('h3', { text: 'Activated' }), h('p', { text: 'The license can be allocated now.' })],
  }),
};

function visibility(page, close, verb) {
  const hide = verb === 'hide';
  return flow(page, close, {
    title: hide ? 'Hide license' : 'Unhide license',
    intro: hide
      ? 'Hiding removes the license from the default views only: nothing leaves the account, and Quick find “All hidden” still finds it.'
      : 'The license shows in the default views again.',
    submit: hide ? 'Hide license' : 'Unhide license',
    send: (_, key) => command(page, `/${verb}`, undefined, key),
    done: () => {
      announce(hide ? 'The license is hidden.' : 'The license is shown again.');
      return [h('h3', { text: hide ? 'Hidden' : 'Shown again' }), h('p', { text: hide ? 'Find it with Quick find: All hidden.' : 'It is back in the default views.' })];
    },
  });
}
