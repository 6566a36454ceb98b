// A license's page: what it is, its allocations with a check box each, the
// license files to download (a void file names its successor), the actions
// ("Select an action"), and its history as a timeline. After a command the page
// reads the license again at the command's position, so it shows the write.
// An auditor's token reads the license as folded from its events instead.

import { get, download, downloadServerFile, ownWrites } from '../api.js';
import { h, put, table, announce } from '../dom.js';
import * as format from '../format.js';
import { actionsPanel } from './license_actions.js';
import { timeline } from './history.js';

export async function render(main, context) {
  const id = context.path[1];
  if (!context.session.may('read_models')) {
    await renderState(main, context, id);
    return;
  }
  const page = new LicensePage(id, context);
  await page.load();
  if (!context.stillCurrent()) return;
  put(main, page.parts());
  const action = context.params.get('action');
  if (action) page.actions.open(action);
}

class LicensePage {
  constructor(id, context) {
    this.id = id;
    this.context = context;
    this.selected = new Set();
    this.heading = h('div');
    this.facts = h('div');
    this.allocations = h('section', { attrs: { 'aria-labelledby': 'allocations-title' } });
    this.files = h('section', { attrs: { 'aria-labelledby': 'files-title' } });
    this.history = h('section', { attrs: { 'aria-labelledby': 'history-title' } });
    this.actions = context.session.may('change')
      ? actionsPanel({
        license: () => this.details,
        selectedAllocations: () => this.details.allocations.filter((a) => this.selected.has(a.allocation_id)),
        allocationsError: () => this.allocations.querySelector('.allocations-error'),
        refresh: (position) => this.load(position),
        downloadFile: (allocationId, position) => this.download(allocationId, undefined, position),
      })
      : null;
  }

  parts() {
    return [this.heading, this.facts, this.actions ? this.actions.element : null, this.allocations, this.files, this.history];
  }

  /** Reads the license (at `position` or later) and redraws everything but the open action. */
  async load(position) {
    this.details = await get(`/licenses/${this.id}`, { min_position: position ?? ownWrites() });
    const live = new Set(this.details.allocations.filter((a) => a.status === 'live').map((a) => a.allocation_id));
    for (const chosen of [...this.selected]) if (!live.has(chosen)) this.selected.delete(chosen);
    this.drawHeading();
    this.drawFacts();
    this.drawAllocations();
    this.drawFiles();
    this.history.replaceChildren(h('h2', { id: 'history-title', text: 'History' }), await timeline(this.id));
    if (this.actions) this.actions.update();
  }

  drawHeading() {
    const d = this.details;
    this.heading.replaceChildren(
      h('p', {}, h('a', { href: '#/licenses', text: '← Licenses' })),
      h('h1', {}, d.feature, d.new ? h('span', { class: 'new', text: '(New)' }) : null,
        d.hidden ? h('span', { class: 'tag hidden-tag', text: 'hidden' }) : null),
      h('p', { class: 'lead', text: `${d.product} ${d.edition} ${d.version} · ${format.words(d.license_model)} · bound to ${format.words(d.binding_type)}` }));
  }

  drawFacts() {
    const d = this.details;
    const band = d.expiry_band;
    const expiry = d.expires_on
      ? h('span', {}, `${d.expires_on} (`, h('span', { class: band ? `days-${band}` : null, text: format.daysLeft(d.days_to_expiry) }), ')')
      : 'perpetual';
    const facts = [
      ['Quantity', format.number(d.quantity)],
      ['Allocated', format.allocatedOf(d.allocated, d.quantity)],
      ['Available', format.number(d.available)],
      ['Expires', expiry],
      ['Maintenance until', d.maintenance_until],
      ['Order number', d.order_number],
      ['License access code', d.access_code],
      ['Purchased', format.instant(d.purchased_at)],
      ['Activated', d.activated_at ? format.instant(d.activated_at) : 'not yet'],
      ['Trial', d.trial ? 'yes' : 'no'],
      ['Partial allocation', d.partial_allocation ? 'allowed' : 'whole quantity only'],
      ['Visibility', d.hidden ? 'hidden' : 'shown'],
    ];
    this.facts.replaceChildren(h('dl', { class: 'facts' }, facts.flatMap(([term, value]) => [h('dt', { text: term }), h('dd', {}, value)])));
  }

  drawAllocations() {
    const rows = this.details.allocations.map((allocation) => {
      const live = allocation.status === 'live';
      const box = h('input', {
        type: 'checkbox',
        checked: this.selected.has(allocation.allocation_id),
        disabled: !live || !this.actions,
        attrs: { 'aria-label': `Select the allocation of ${format.number(allocation.quantity)} on ${allocation.host}` },
        on: {
          change: (event) => {
            if (event.target.checked) this.selected.add(allocation.allocation_id);
            else this.selected.delete(allocation.allocation_id);
          },
        },
      });
      return {
        data: { allocationId: allocation.allocation_id, host: allocation.host, status: allocation.status },
        cells: [box, allocation.host, format.number(allocation.quantity), this.statusOf(allocation),
          format.instant(allocation.allocated_at),
          live ? [this.downloadButton(allocation, allocation.file_revision), ' ', this.serverFileButton(allocation.host)] : '—'],
      };
    });
    this.allocations.replaceChildren(
      h('h2', { id: 'allocations-title', text: 'Allocations' }),
      h('p', { class: 'hint', text: 'Select the check box of an allocation to modify or return it.' }),
      table({
        caption: 'Allocations to license servers',
        empty: 'Nothing is allocated yet.',
        columns: [{ label: 'Select' }, { label: 'License server' }, { label: 'Quantity', num: true }, { label: 'Status' }, { label: 'Allocated' }, { label: 'License file' }],
        rows,
      }),
      h('p', { class: 'field-error allocations-error', attrs: { role: 'alert' } }));
  }

  statusOf(allocation) {
    if (allocation.status === 'moved') {
      const next = this.allocationById(allocation.replaced_by);
      return `moved to ${next ? next.host : 'another server'}`;
    }
    return allocation.status;
  }

  allocationById(id) {
    return this.details.allocations.find((a) => a.allocation_id === id);
  }

  /** Every file ever issued to an allocation, newest first; a void one names what replaced it. */
  drawFiles() {
    const rows = [];
    for (const allocation of this.details.allocations) {
      for (const revision of [...allocation.file_revisions].sort((a, b) => b - a)) {
        const current = allocation.status === 'live' && revision === allocation.file_revision;
        const [state, successor] = current ? ['current', null] : this.voidState(allocation);
        rows.push({
          data: { allocationId: allocation.allocation_id, revision, state: current ? 'current' : 'void' },
          cells: [allocation.host, String(revision), current ? format.instant(allocation.file_issued_at) : '—', state,
            current ? this.downloadButton(allocation, revision)
              : successor ? this.downloadButton(successor, successor.file_revision, 'Download the replacement') : '—'],
        });
      }
    }
    this.files.replaceChildren(
      h('h2', { id: 'files-title', text: 'Files to download' }),
      table({
        caption: 'License files, current and void',
        empty: 'No license file was issued yet: allocate licenses first.',
        columns: [{ label: 'License server' }, { label: 'Revision', num: true }, { label: 'Issued' }, { label: 'State' }, { label: 'Download' }],
        rows,
      }));
  }

  /** Why a file is void, in words, and the live allocation holding its successor. */
  voidState(allocation) {
    if (allocation.status === 'returned') return ['void: returned; remove it from the license server', null];
    if (allocation.status === 'live') {
      return [`void: replaced by revision ${allocation.file_revision} of this allocation`, allocation];
    }
    const next = this.allocationById(allocation.replaced_by);
    if (!next) return ['void: moved to another license server', null];
    const live = next.status === 'live' ? next : null;
    return [`void: replaced by revision ${next.file_revision} on ${next.host} (allocation …${format.shortId(next.allocation_id)})`, live];
  }

  downloadButton(allocation, revision, label = 'Download license file') {
    return h('button', {
      type: 'button',
      text: label,
      attrs: { 'aria-label': `${label}: ${allocation.host}, revision ${revision}` },
      on: { click: () => this.download(allocation.allocation_id, revision).catch((problem) => announce(problem.message)) },
    });
  }

  /** "Download all licenses" of the allocation's server: one file for all its allocations. */
  serverFileButton(host) {
    return h('button', {
      type: 'button',
      class: 'link',
      text: `All licenses on ${host}`,
      attrs: { 'aria-label': `Download all licenses on ${host}` },
      on: {
        click: () => downloadServerFile(host)
          .then((file) => announce(`Saved ${file.name}.`))
          .catch((problem) => announce(problem.message)),
      },
    });
  }

  async download(allocationId, revision, position) {
    const file = await download(`/licenses/${this.id}/allocations/${allocationId}/license-file`,
      { revision, min_position: position ?? ownWrites() }, 'license.lic');
    announce(`Saved ${file.name}.`);
    return file;
  }
}

/** An auditor's view: the license as folded from its events, and its history. */
async function renderState(main, context, id) {
  const answer = await get(`/licenses/${id}/state`, { as_of: context.asOf || undefined });
  if (!context.stillCurrent()) return;
  const { terms, allocations } = answer.state;
  const facts = Object.entries({ ...terms, activated_at: answer.state.activated_at, hidden: answer.state.hidden ? 'yes' : 'no' });
  put(main,
    h('p', {}, h('a', { href: '#/licenses', text: '← Licenses' })),
    h('h1', { text: `${terms.product} ${terms.edition} (${terms.order_number})` }),
    h('p', { class: 'notice', text: `As of ${format.instant(answer.as_of)}: version ${answer.version}, folded from the license's events.` }),
    h('dl', { class: 'facts' }, facts.flatMap(([name, value]) => [h('dt', { text: name.replace(/_/g, ' ') }), h('dd', { text: value === null ? '—' : String(value) })])),
    h('h2', { text: 'Allocations' }),
    table({
      empty: 'Nothing allocated.',
      columns: [{ label: 'License server' }, { label: 'Quantity', num: true }, { label: 'Status' }],
      rows: Object.values(allocations || {}).map((a) => [a.host, format.number(a.quantity), a.status]),
    }),
    h('h2', { text: 'History' }),
    await timeline(id));
}
