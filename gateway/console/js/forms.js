// Labelled inputs with a place for their error, and problem+json shown where it
// belongs: next to the input its `field` names (`quantity`, `query.as_of`,
// `header.authorization`), else at the top of the form.

import { h } from './dom.js';

let counter = 0;

/**
 * A labelled input: `{label, name, type, value, options, hint, field, attrs}`.
 * `field` is the problem+json `field` it answers for (default `name`);
 * `options` (for a select) are `[value, text]` pairs.
 */
export function field({ label, name, type = 'text', value, options, hint, field: answersFor, attrs = {}, inline }) {
  counter += 1;
  const id = `f-${name}-${counter}`;
  const errorId = `${id}-error`;
  const hintId = hint ? `${id}-hint` : null;
  const common = {
    id,
    name,
    data: { field: answersFor || name },
    attrs: { 'aria-describedby': [hintId, errorId].filter(Boolean).join(' '), ...attrs },
  };
  let input;
  if (options) {
    input = h('select', common, options.map(([optionValue, text]) =>
      h('option', { value: optionValue, text })));
    if (value !== undefined && value !== null) input.value = value;
  } else {
    input = h('input', { ...common, type, value: value ?? '' });
  }
  return h('div', { class: ['field', inline && 'field-inline'] },
    h('label', { htmlFor: id, text: label }),
    input,
    hint ? h('span', { class: 'hint', id: hintId, text: hint }) : null,
    h('p', { class: 'field-error', id: errorId, hidden: true }));
}

/** A form's place for problems that name no input of it. */
export function formError() {
  return h('p', { class: 'form-error', attrs: { role: 'alert' } });
}

/** Removes every error shown in `form`. */
export function clearErrors(form) {
  for (const error of form.querySelectorAll('.field-error')) {
    error.textContent = '';
    error.hidden = true;
  }
  for (const input of form.querySelectorAll('[aria-invalid]')) input.removeAttribute('aria-invalid');
  for (const error of form.querySelectorAll('.form-error')) error.textContent = '';
}

/**
 * Shows `problem` (a `Problem` or an `Error`) next to the input it names, or in
 * the form's error place; focuses that input. Answers the element showing it.
 */
export function showProblem(form, problem) {
  clearErrors(form);
  const message = problem.message || String(problem);
  const input = problem.field ? inputFor(form, problem.field) : null;
  if (input) {
    const error = document.getElementById(`${input.id}-error`);
    input.setAttribute('aria-invalid', 'true');
    if (error) {
      error.textContent = message;
      error.hidden = false;
      input.focus();
      return error;
    }
  }
  let place = form.querySelector('.form-error');
  if (!place) {
    place = formError();
    form.prepend(place);
  }
  place.textContent = message;
  return place;
}

/** The input answering for problem field `field`: by `data-field`, else by name. */
function inputFor(form, name) {
  for (const input of form.querySelectorAll('[data-field]')) {
    if (input.dataset.field === name) return input;
  }
  const bare = name.replace(/^(query|path|header)\./, '');
  for (const input of form.querySelectorAll('[name]')) {
    if (input.name === bare) return input;
  }
  return null;
}

/** The form's named values, without the empty ones. */
export function values(form) {
  const out = {};
  for (const [name, value] of new FormData(form).entries()) {
    if (typeof value === 'string' && value.trim() !== '') out[name] = value.trim();
  }
  return out;
}

/** A whole number as typed (`800`, `1,000`), or the text itself for the ledger to refuse. */
export function wholeNumber(text) {
  const plain = String(text).replace(/[,\s_]/g, '');
  return /^-?\d+$/.test(plain) ? Number(plain) : text;
}
