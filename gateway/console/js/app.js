// The console's shell: who is signed in, the navigation, the auditors' as-of
// instant, and which screen the address (`#/licenses/…`) shows.

import * as session from './session.js';
import { forgetPastAnswers } from './api.js';
import { h, announce } from './dom.js';
import { clearErrors, showProblem } from './forms.js';
import { localInputValue } from './format.js';
import * as signin from './views/signin.js';
import * as landing from './views/landing.js';
import * as licenses from './views/licenses.js';
import * as license from './views/license.js';
import * as assets from './views/assets.js';
import * as usage from './views/usage.js';
import * as integrity from './views/integrity.js';

const main = document.getElementById('main');

/** The screen for a path (`['licenses', id]`), with the permission it needs. */
function screenFor(path) {
  if (path.length === 0 || path[0] === '') return { view: landing, route: 'landing' };
  if (path[0] === 'licenses' && path.length === 1) return { view: licenses, route: 'licenses' };
  if (path[0] === 'licenses' && path.length === 2) return { view: license, route: 'licenses' };
  if (path[0] === 'assets') return { view: assets, route: 'assets', needs: 'read_models' };
  if (path[0] === 'usage') return { view: usage, route: 'usage', needs: 'read_models' };
  return null;
}

/** `#/licenses/abc?filter=new` → `{path: ['licenses', 'abc'], params}`. */
function location() {
  const hash = window.location.hash.replace(/^#\/?/, '');
  const [path, query = ''] = hash.split('?');
  return { path: path.split('/').filter(Boolean).map(decodeURIComponent), params: new URLSearchParams(query) };
}

/** Shows `#/path?params`. */
export function navigate(path, params) {
  const query = params && params.toString() ? `?${params}` : '';
  const target = `#/${path}${query}`;
  if (window.location.hash === target) render();
  else window.location.hash = target;
}

let rendering = 0;
// The landing page the sign-in read to check the token, for the first screen after it.
let signInLanding = null;

function onSignedIn(landing) {
  signInLanding = landing;
  render();
}

async function render() {
  const ticket = ++rendering;
  const landing = signInLanding;
  signInLanding = null;
  const current = session.current();
  showShell(current);
  if (!current) {
    signin.render(main, { onSignedIn });
    return;
  }
  integrity.ensureChecked();
  const { path, params } = location();
  const screen = screenFor(path);
  markNavigation(screen && screen.route);
  if (!screen) {
    main.replaceChildren(h('h1', { text: 'Not found' }), h('p', { text: 'The console has no such page.' }));
    return;
  }
  if (screen.needs && !current.may(screen.needs)) {
    main.replaceChildren(h('h1', { text: 'Not available' }),
      h('p', { text: `A token of role “${current.role}” cannot read this.` }));
    return;
  }
  main.replaceChildren(h('p', { text: 'Loading…' }));
  const asOf = session.asOf();
  const context = { session: current, params, path, asOf, navigate, stillCurrent: () => ticket === rendering,
    landing: asOf ? null : landing };
  try {
    await screen.view.render(main, context);
  } catch (error) {
    if (ticket !== rendering) return;
    main.replaceChildren(h('h1', { text: 'Something went wrong' }),
      h('p', { class: 'form-error', attrs: { role: 'alert' }, text: error.message }));
  }
  if (ticket === rendering) focusHeading();
}

function focusHeading() {
  const heading = main.querySelector('h1');
  if (heading && !main.contains(document.activeElement)) {
    heading.tabIndex = -1;
    heading.focus({ preventScroll: true });
  }
}

function showShell(current) {
  document.getElementById('nav').hidden = !current;
  document.getElementById('session').hidden = !current;
  const form = document.getElementById('as-of-form');
  form.hidden = !current || !current.may('read_history');
  if (!current) return;
  document.getElementById('who').textContent = `${current.subject} · ${current.role.replace('_', '-')}`;
  for (const element of document.querySelectorAll('[data-needs]')) {
    const item = element.closest('li') || element;
    item.hidden = !current.may(element.dataset.needs);
  }
  const asOf = session.asOf();
  form.classList.toggle('active', Boolean(asOf));
  const input = document.getElementById('as-of-input');
  if (document.activeElement !== input) input.value = localInputValue(asOf);
}

function markNavigation(route) {
  for (const link of document.querySelectorAll('#nav a')) {
    if (link.dataset.route === route) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
}

function wireShell() {
  document.getElementById('sign-out').addEventListener('click', () => {
    session.signOut();
    integrity.forget();
    forgetPastAnswers();
    announce('Signed out.');
    navigate('');
  });
  document.getElementById('skip-link').addEventListener('click', (event) => {
    event.preventDefault();
    main.focus();
  });
  const form = document.getElementById('as-of-form');
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const value = document.getElementById('as-of-input').value;
    const when = value ? new Date(value) : null;
    if (value && Number.isNaN(when.getTime())) {
      showProblem(form, { field: 'query.as_of', message: 'enter a date and time' });
      return;
    }
    clearErrors(form);
    session.setAsOf(when ? when.toISOString() : null);
    announce(when ? `Showing the account as of ${value.replace('T', ' ')}.` : 'Showing the account now.');
    render();
  });
  document.getElementById('as-of-now').addEventListener('click', () => {
    clearErrors(form);
    session.setAsOf(null);
    announce('Showing the account now.');
    render();
  });
  // A problem with the as-of instant (from a screen's query) is shown beside it.
  window.addEventListener('console:as-of-refused', (event) => showProblem(form, event.detail));
  window.addEventListener('console:unauthenticated', (event) => {
    // On the sign-in screen, the sign-in shows the refusal beside the token itself.
    if (!session.current() || document.getElementById('signin-title')) return;
    session.signOut();
    integrity.forget();
    forgetPastAnswers();
    showShell(null);
    signin.render(main, { onSignedIn, problem: event.detail });
  });
  window.addEventListener('hashchange', render);
  integrity.wire(document.getElementById('integrity-badge'));
}

wireShell();
render();
