// Usage: per license server and feature, a chart per day of the peak in use,
// the seats installed and the overdraft allowance, with overdraft marked, from
// the license servers' daily reports (`GET /usage/overdraft`); and the usage CSV.

import { get, download } from '../api.js';
import { h, add, table, announce } from '../dom.js';
import { field, formError, showProblem, values } from '../forms.js';
import * as format from '../format.js';
import { usageChart, daysBetween } from '../chart.js';

const MAX_PAGES = 10;

function today() {
  return new Date().toISOString().slice(0, 10);
}

function daysAgo(n) {
  const day = new Date();
  day.setUTCDate(day.getUTCDate() - n);
  return day.toISOString().slice(0, 10);
}

export async function render(main, context) {
  const params = context.params;
  const query = {
    from: params.get('from') || daysAgo(29),
    to: params.get('to') || today(),
    host: params.get('host') || undefined,
    feature: params.get('feature') || undefined,
  };
  const form = h('form', { class: 'panel', attrs: { novalidate: true, 'aria-label': 'Usage period' } },
    formError(),
    h('div', { class: 'form-row' },
      field({ label: 'From', name: 'from', type: 'date', value: query.from, field: 'query.from' }),
      field({ label: 'To', name: 'to', type: 'date', value: query.to, field: 'query.to' }),
      field({ label: 'License server host', name: 'host', value: query.host, field: 'query.host' }),
      field({ label: 'Feature', name: 'feature', value: query.feature, field: 'query.feature' }),
      h('div', { class: 'actions' },
        h('button', { type: 'submit', class: 'primary', text: 'Show' }),
        h('button', { type: 'button', text: 'Export to Excel (CSV)', on: { click: () => exportCsv(form, query) } }))));
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    context.navigate('usage', new URLSearchParams(values(form)));
  });
  main.replaceChildren(h('h1', { text: 'Usage and overdraft' }),
    h('p', { class: 'lead', text: 'Daily peaks reported by the license servers against the seats installed there. User/device features carry an overdraft allowance; use beyond it must be bought.' }),
    form);
  let lines;
  try {
    lines = await overdraftLines(query);
  } catch (problem) {
    if (!problem.status || problem.status >= 500) throw problem;
    showProblem(form, problem);
    return;
  }
  if (!context.stillCurrent()) return;
  const days = lines.length ? daysBetween(lines[0].from, lines[0].to) : [];
  const groups = groupByServer(lines);
  add(main,
    h('ul', { class: 'legend', attrs: { 'aria-label': 'Legend' } },
      h('li', { class: 'l-installed', text: 'installed' }),
      h('li', { class: 'l-in-use', text: 'in use (daily peak)' }),
      h('li', { class: 'l-allowance', text: 'installed + overdraft allowance' }),
      h('li', { class: 'l-overdraft', text: 'in overdraft' }),
      h('li', { class: 'l-exceeded', text: 'beyond the allowance' })),
    groups.length === 0 ? h('p', { class: 'empty', text: 'No license server reported usage in this period.' }) : null,
    groups.map(([key, group]) => chartOf(key, group, days)));
}

/** Every overdraft line of the period (up to MAX_PAGES pages), each with the period. */
async function overdraftLines(query) {
  const lines = [];
  let cursor;
  for (let page = 0; page < MAX_PAGES; page += 1) {
    const answer = await get('/usage/overdraft', { ...query, limit: 1000, cursor });
    lines.push(...answer.items.map((item) => ({ ...item, from: answer.from, to: answer.to })));
    cursor = answer.next_cursor;
    if (!cursor) break;
  }
  return lines;
}

function groupByServer(lines) {
  const groups = new Map();
  for (const line of lines) {
    const key = `${line.host} · ${line.feature}`;
    if (!groups.has(key)) groups.set(key, []);
    groups.get(key).push(line);
  }
  return [...groups.entries()].sort(([a], [b]) => a.localeCompare(b));
}

function chartOf(key, lines, days) {
  const over = lines.filter((l) => l.overdraft > 0).length;
  const beyond = lines.filter((l) => l.allowance_exceeded).length;
  const title = `${key}: in use, installed and allowance per day`;
  return h('figure', { class: 'chart', data: { server: lines[0].host, feature: lines[0].feature } },
    h('h2', { text: key }),
    usageChart(lines, days, title),
    h('figcaption', { text: `${format.number(lines.length)} day(s) reported; ${format.number(over)} in overdraft, ${format.number(beyond)} beyond the allowance.` }),
    h('details', {},
      h('summary', { text: 'The numbers' }),
      table({
        columns: [{ label: 'Day' }, { label: 'In use', num: true }, { label: 'Installed', num: true }, { label: 'Allowance', num: true }, { label: 'Overdraft', num: true }, { label: 'Beyond allowance' }],
        rows: lines.map((l) => [l.day, format.number(l.in_use), format.number(l.installed), format.number(l.allowance), format.number(l.overdraft), l.allowance_exceeded ? 'yes' : 'no']),
      })));
}

async function exportCsv(form, query) {
  try {
    const file = await download('/exports/usage.csv', query, 'usage.csv');
    announce(`Saved ${file.name}.`);
  } catch (problem) {
    showProblem(form, problem);
  }
}
