// Sign-in: a person pastes a bearer token. The console keeps it in this tab,
// checks it with one call the token's role may make, and from then on sees
// exactly what the token may see.

import * as session from '../session.js';
import { get } from '../api.js';
import { h, announce } from '../dom.js';
import { field, formError, showProblem } from '../forms.js';
import * as integrity from './integrity.js';

/** The latest sign-in attempt: an earlier one answering late must not undo it. */
let attempt = 0;

export function render(main, { onSignedIn, problem }) {
  const form = h('form', { class: 'panel', attrs: { novalidate: true, 'aria-labelledby': 'signin-title' } },
    formError(),
    field({
      label: 'Bearer token',
      name: 'token',
      type: 'password',
      field: 'header.authorization',
      hint: 'A portal, read-only or auditor token of your account.',
      attrs: { autocomplete: 'off', spellcheck: 'false' },
    }),
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary', text: 'Sign in' })));
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const token = form.elements.token.value;
    if (!token.trim()) {
      showProblem(form, { field: 'header.authorization', message: 'paste a token' });
      return;
    }
    const mine = ++attempt;
    try {
      const signedIn = session.signIn(token);
      // One call its role may make: the ledger, not the console, judges the token.
      // Its answer is the landing page, which the console shows next: for an
      // auditor it is rebuilt from the account's events (seconds on a large
      // account), so it is not asked for twice.
      const landing = signedIn.may('read_models')
        ? await get('/landing-page')
        : await get('/history/landing-page');
      if (mine !== attempt) return;
      announce(`Signed in as ${signedIn.subject}.`);
      integrity.forget();
      onSignedIn(landing);
    } catch (refused) {
      if (mine !== attempt) return;
      session.signOut();
      showProblem(form, refused.field ? refused : { field: 'header.authorization', message: refused.message });
    }
  });
  main.replaceChildren(
    h('h1', { id: 'signin-title', text: 'Sign in' }),
    h('p', { class: 'lead', text: 'Paste a bearer token to manage your account\u2019s licenses. The console keeps it in this browser tab only and sees only what the token may see; Sign out forgets it.' }),
    form,
    h('p', { class: 'hint', text: 'An operator issues tokens with `ledger admin issue-token --role portal --account <id> --subject <you>` or POST /v1/accounts/{account_id}/tokens.' }));
  if (problem) showProblem(form, problem);
  form.elements.token.focus();
}
