// The usage chart, drawn as SVG by hand (no chart library): for one license
// server and feature, per day, the seats installed (bars), the limit with the
// overdraft allowance (dashed line) and the peak in use (line with a dot per
// reported day). A day in overdraft (in use beyond installed) has an orange dot
// and a shaded column; beyond the allowance too, a red dot.

import { svg } from './dom.js';
import * as format from './format.js';

const WIDTH = 760;
const HEIGHT = 260;
const MARGIN = { top: 16, right: 16, bottom: 34, left: 48 };

/** Every day from `from` to `to` (`YYYY-MM-DD`), inclusive. */
export function daysBetween(from, to) {
  const days = [];
  const day = new Date(`${from}T00:00:00Z`);
  const end = new Date(`${to}T00:00:00Z`);
  while (day <= end && days.length < 400) {
    days.push(day.toISOString().slice(0, 10));
    day.setUTCDate(day.getUTCDate() + 1);
  }
  return days;
}

/** A round step for about `ticks` ticks up to `max`. */
function step(max, ticks) {
  const raw = Math.max(max, 1) / ticks;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const [nice] = [1, 2, 5, 10].filter((n) => n * magnitude >= raw);
  return nice * magnitude;
}

/**
 * The chart of `lines` (the overdraft lines of one server and feature) over the
 * days `days`; `title` names it for screen readers.
 */
export function usageChart(lines, days, title) {
  const byDay = new Map(lines.map((line) => [line.day, line]));
  const plotWidth = WIDTH - MARGIN.left - MARGIN.right;
  const plotHeight = HEIGHT - MARGIN.top - MARGIN.bottom;
  const peak = Math.max(1, ...lines.map((l) => Math.max(l.in_use, l.installed + l.allowance)));
  const yStep = step(peak, 4);
  const yMax = Math.ceil((peak * 1.1) / yStep) * yStep;
  const band = plotWidth / Math.max(days.length, 1);
  const x = (i) => MARGIN.left + band * i + band / 2;
  const y = (value) => MARGIN.top + plotHeight - (value / yMax) * plotHeight;

  const grid = [];
  for (let value = 0; value <= yMax; value += yStep) {
    grid.push(svg('line', { class: 'grid', x1: MARGIN.left, x2: WIDTH - MARGIN.right, y1: y(value), y2: y(value) }));
    grid.push(svg('text', { class: 'tick', x: MARGIN.left - 6, y: y(value) + 4, 'text-anchor': 'end' }, format.number(value)));
  }
  const labelEvery = Math.ceil(days.length / 10);
  const xLabels = days.map((day, i) => (i % labelEvery === 0 || i === days.length - 1
    ? svg('text', { class: 'tick', x: x(i), y: HEIGHT - MARGIN.bottom + 16, 'text-anchor': 'middle' }, day.slice(5))
    : null));

  const shades = [];
  const bars = [];
  const limit = [];
  const use = [];
  const dots = [];
  days.forEach((day, i) => {
    const line = byDay.get(day);
    if (!line) return;
    const over = line.overdraft > 0;
    if (over) {
      shades.push(svg('rect', { class: 'overdraft-band', x: x(i) - band / 2, y: MARGIN.top, width: band, height: plotHeight }));
    }
    const barWidth = Math.max(2, band * 0.6);
    bars.push(svg('rect', { class: 'installed', x: x(i) - barWidth / 2, y: y(line.installed), width: barWidth, height: y(0) - y(line.installed) },
      svg('title', {}, `${day}: ${format.number(line.installed)} installed`)));
    limit.push(`${x(i)},${y(line.installed + line.allowance)}`);
    use.push(`${x(i)},${y(line.in_use)}`);
    const kind = line.allowance_exceeded ? 'exceeded' : over ? 'overdraft' : '';
    dots.push(svg('circle', { class: `point ${kind}`.trim(), cx: x(i), cy: y(line.in_use), r: over ? 5 : 3.5, 'data-day': day },
      svg('title', {}, `${day}: ${format.number(line.in_use)} in use, ${format.number(line.installed)} installed, allowance ${format.number(line.allowance)}` +
        (over ? ` — ${format.number(line.overdraft)} in overdraft${line.allowance_exceeded ? ', beyond the allowance' : ''}` : ''))));
  });

  return svg('svg', { class: 'usage', viewBox: `0 0 ${WIDTH} ${HEIGHT}`, role: 'img', 'aria-label': title },
    svg('title', {}, title),
    grid,
    shades,
    svg('line', { class: 'axis', x1: MARGIN.left, x2: WIDTH - MARGIN.right, y1: y(0), y2: y(0) }),
    svg('line', { class: 'axis', x1: MARGIN.left, x2: MARGIN.left, y1: MARGIN.top, y2: y(0) }),
    bars,
    limit.length > 1 ? svg('polyline', { class: 'allowance', points: limit.join(' ') }) : null,
    use.length > 1 ? svg('polyline', { class: 'in-use', points: use.join(' ') }) : null,
    dots,
    xLabels);
}
