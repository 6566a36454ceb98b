// The seeds' story, clicked through in the web console by a person's hand:
// Debian's chromium driven by Playwright against the real ledger, which
// tests/tests/console_browser.rs started and seeded (tests/src/console/seed.rs).
// Every check is on what the page shows (text, the bars' colours, which field
// an error sits next to, the files downloaded), never on pixels. A screenshot
// of each screen goes to CONSOLE_SCREENSHOTS; on a failure, failure.png too.
//
// Run by `bash deploy/console-test.sh --story` with CONSOLE_URL, the tokens and
// the rest set (see tests/src/console/mod.rs).

import { setting, until, textMatches, check, open, Steps, shot as shotOf, downloaded as downloadedOn } from './browser.mjs';

const url = setting('CONSOLE_URL');
const portalToken = setting('CONSOLE_PORTAL_TOKEN');
const auditorToken = setting('CONSOLE_AUDITOR_TOKEN');
const portalSubject = setting('CONSOLE_PORTAL_SUBJECT');
const seededAt = new Date(setting('CONSOLE_SEEDED_AT'));
const usageHost = setting('CONSOLE_USAGE_HOST');
const usageDays = Number(setting('CONSOLE_USAGE_DAYS'));
const shots = setting('CONSOLE_SCREENSHOTS');

const opened = await open();
const { page } = opened;
const steps = new Steps('story', opened.errors);
const step = (name, body) => steps.step(name, body);
const shot = (name) => shotOf(page, shots, name);
const downloaded = (trigger) => downloadedOn(page, trigger);

/** The error element an input names in its aria-describedby (`…-error`). */
async function errorOf(input) {
  const described = (await input.getAttribute('aria-describedby')) || '';
  const id = described.split(' ').find((part) => part.endsWith('-error'));
  check(id, `the input describes no error element: ${described}`);
  return page.locator(`[id="${id}"]`);
}

/** The landing page's table row naming `text`, in section `section`. */
function landingRow(section, text) {
  return page.locator(`section[data-section="${section}"] tbody tr`, { hasText: text });
}

/** The license list's row of order `order`. */
function listRow(order) {
  return page.locator('main table tbody tr').filter({ has: page.getByRole('cell', { name: order, exact: true }) });
}

/** Chooses `action` in a license page's "Select an action" and continues. */
async function chooseAction(action) {
  await page.getByLabel('Select an action').selectOption({ label: action });
  await page.getByRole('button', { name: 'Continue' }).click();
}

async function allocate(host, quantity) {
  await page.getByLabel('License server host').fill(host);
  await page.getByLabel('Quantity', { exact: true }).fill(String(quantity));
  await page.getByRole('button', { name: 'Create license file' }).click();
  const confirm = page.getByRole('alertdialog');
  await textMatches(confirm, new RegExp(`${quantity} of XDT_ENT_UD \\(ORD-1000\\) to ${host}`), 'the confirmation names what is allocated');
  return confirm;
}

async function focusedText() {
  return page.evaluate(() => document.activeElement && document.activeElement.textContent);
}

async function story() {
  await step('sign in: a bad token is refused beside the token field; Enter signs in', async () => {
    await page.goto(url);
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
    const token = page.getByLabel('Bearer token');
    await token.fill('not-a-token');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await textMatches(await errorOf(token), /three parts/, 'a malformed token is refused beside its field');
    check(await token.getAttribute('aria-invalid') === 'true', 'the token field is marked invalid');
    // A well-formed token the ledger does not accept: its 401 lands beside the field too.
    const [head, , sig] = portalToken.split('.');
    const forged = `${head}.${Buffer.from(JSON.stringify({ role: 'portal', account: '00000000-0000-7000-8000-000000000000', sub: 'x' })).toString('base64url')}.${sig}`;
    await token.fill(forged);
    await token.press('Enter');
    await textMatches(await errorOf(token), /the token's signature is not valid/, 'a token the ledger refuses is shown beside its field');
    await token.fill(portalToken);
    await token.press('Enter');
    await page.getByRole('heading', { name: 'Manage licenses' }).waitFor();
    await textMatches(page.locator('#who'), new RegExp(portalSubject), 'the header names who is signed in');
  });

  await step('landing page: a green bar and (New); red and orange bars with days left and allocated/total', async () => {
    const fresh = landingRow('new', 'XDT_ENT_UD');
    await textMatches(fresh, /\(New\)/, 'the new license says (New)');
    await textMatches(fresh, /0 \/ 1,000/, 'the new license shows allocated/total');
    check(await fresh.locator('.bar.bar-green').count() === 1, 'the new license has a green bar');
    const red = landingRow('expiring', 'XDT_PLT_UD');
    await textMatches(red, /20 days/, 'the red license shows its days left');
    await textMatches(red, /0 \/ 50/, 'the red license shows allocated/total');
    check(await red.locator('.bar.bar-red').count() === 1, 'a license expiring in 20 days has a red bar');
    const orange = landingRow('expiring', 'XDT_ADV_CCU');
    await textMatches(orange, /60 days/, 'the orange license shows its days left');
    await textMatches(orange, /50 \/ 100/, 'the orange license shows allocated/total');
    check(await orange.locator('.bar.bar-orange').count() === 1, 'a license expiring in 60 days has an orange bar');
    await textMatches(page.locator('#integrity-badge'), /Integrity verified: chains and checkpoint/, 'the integrity badge');
    await shot('landing');
  });

  await step('allocate 800 with the confirmation step, then download the file', async () => {
    await page.getByRole('link', { name: 'Allocate licenses of XDT_ENT_UD (ORD-1000)' }).click();
    await page.getByRole('heading', { name: 'Allocate licenses' }).waitFor();
    const confirm = await allocate('SRV-A', 800);
    check(await focusedText() === 'Yes, create license file', 'the confirmation focuses “Yes, create license file”');
    await confirm.getByRole('button', { name: 'Yes, create license file' }).click();
    await page.getByRole('heading', { name: 'License file created', exact: true }).waitFor();
    const file = await downloaded(page.getByRole('button', { name: 'Download license file', exact: true }));
    check(file.name.endsWith('.lic'), `a .lic file: ${file.name}`);
    check(file.text.includes('SERVER this_host HOSTNAME=SRV-A'), `the file is for SRV-A:\n${file.text}`);
    check(/INCREMENT XDT_ENT_UD CITRIX \S+ permanent 800 /.test(file.text), `the file holds 800 seats:\n${file.text}`);
    await textMatches(page.locator('dl.facts'), /800 \/ 1,000/, 'the license shows 800 of 1,000 allocated');
    await shot('allocated');
  });

  await step('an over-allocation shows its message next to the quantity', async () => {
    await chooseAction('Allocate licenses');
    const confirm = await allocate('SRV-B', 300);
    await confirm.getByRole('button', { name: 'Yes, create license file' }).click();
    const quantity = page.getByLabel('Quantity', { exact: true });
    await textMatches(await errorOf(quantity), /cannot allocate 300: only 200 unallocated/, 'the refusal sits beside the quantity');
    check(await quantity.getAttribute('aria-invalid') === 'true', 'the quantity is marked invalid');
    check(await page.evaluate(() => document.activeElement.name) === 'quantity', 'the quantity has the focus');
    await shot('over-allocation');
  });

  await step('allocate 200 ("No, modify the allocation" keeps the entry), then download', async () => {
    await page.getByLabel('Quantity', { exact: true }).fill('200');
    let confirm = await allocate('SRV-B', 200);
    await confirm.getByRole('button', { name: 'No, modify the allocation' }).click();
    check(await page.getByLabel('License server host').inputValue() === 'SRV-B', 'the host is kept');
    confirm = await allocate('SRV-B', 200);
    await confirm.getByRole('button', { name: 'Yes, create license file' }).click();
    await page.getByRole('heading', { name: 'License file created', exact: true }).waitFor();
    const file = await downloaded(page.getByRole('button', { name: 'Download license file', exact: true }));
    check(file.text.includes('HOSTNAME=SRV-B') && / 200 /.test(file.text), `the file holds 200 on SRV-B:\n${file.text}`);
    await textMatches(page.locator('dl.facts'), /1,000 \/ 1,000/, 'every seat is allocated');
  });

  await step('“Download all licenses” of a server: one file, its SERVER line once, one INCREMENT per allocation', async () => {
    const file = await downloaded(page.getByRole('button', { name: 'Download all licenses on SRV-A' }));
    check(file.name === 'SRV-A.lic', `the file is named after its server: ${file.name}`);
    check((file.text.match(/^SERVER /gm) || []).length === 1, `one SERVER line:\n${file.text}`);
    check(file.text.includes('SERVER this_host HOSTNAME=SRV-A'), `the file is for SRV-A:\n${file.text}`);
    const increments = file.text.match(/^INCREMENT .*$/gm) || [];
    check(increments.length === 1 && / 800 /.test(increments[0]), `SRV-A holds the one allocation of 800:\n${file.text}`);
    check(!file.text.includes('SRV-B'), 'the file leaves out the other server');
  });

  await step('modify: SRV-B moves to SRV-C; the new file downloads and the old one names it', async () => {
    await page.getByLabel('Select the allocation of 200 on SRV-B').check();
    await chooseAction('Modify allocations');
    await page.getByLabel('New license server host').fill('SRV-C');
    await page.getByRole('button', { name: 'Modify license file' }).click();
    await page.getByRole('alertdialog').getByRole('button', { name: 'Yes, create license file' }).click();
    await page.getByRole('heading', { name: 'License file created', exact: true }).waitFor();
    const file = await downloaded(page.getByRole('button', { name: 'Download license file', exact: true }));
    check(file.text.includes('HOSTNAME=SRV-C') && / 200 /.test(file.text), `the new file holds 200 on SRV-C:\n${file.text}`);
    const voided = page.locator('tr[data-state="void"]', { hasText: 'SRV-B' });
    await textMatches(voided, /void: replaced by revision \d+ on SRV-C/, 'the void file names its successor');
    const replacement = await downloaded(voided.getByRole('button', { name: /Download the replacement/ }));
    check(replacement.text === file.text, 'the void file leads to the new one');
    await shot('modified');
  });

  await step('return SRV-C with the “cannot undo” confirmation', async () => {
    await page.getByLabel('Select the allocation of 200 on SRV-C').check();
    await chooseAction('Return allocations');
    await page.getByRole('button', { name: 'Return allocations' }).click();
    const confirm = page.getByRole('alertdialog');
    await textMatches(confirm, /You cannot undo this/, 'the return warns it cannot be undone');
    await confirm.getByRole('button', { name: 'Yes, process return' }).click();
    await page.getByRole('heading', { name: 'Returned', exact: true }).waitFor();
    await textMatches(page.locator('tr[data-host="SRV-C"]'), /returned/, 'the allocation is returned');
    await textMatches(page.locator('dl.facts'), /800 \/ 1,000/, 'its seats are back in the pool');
    await textMatches(page.locator('tr[data-state="void"]', { hasText: 'returned' }), /remove it from the license server/, 'the returned file is void');
  });

  await step('hide, find it under “All hidden”, unhide', async () => {
    await chooseAction('Hide license');
    await page.getByRole('button', { name: 'Hide license' }).click();
    await page.getByRole('heading', { name: 'Hidden', exact: true }).waitFor();
    await page.getByRole('link', { name: 'Licenses', exact: true }).click();
    await page.getByRole('button', { name: 'All hidden' }).click();
    await textMatches(listRow('ORD-1000'), /hidden/, 'the hidden license is under All hidden');
    await textMatches(listRow('ORD-LEGACY'), /hidden/, 'the legacy license too');
    await listRow('ORD-1000').getByRole('link', { name: 'XDT_ENT_UD' }).click();
    await chooseAction('Unhide license');
    await page.getByRole('button', { name: 'Unhide license' }).click();
    await page.getByRole('heading', { name: 'Shown again', exact: true }).waitFor();
    await page.getByRole('link', { name: 'Licenses', exact: true }).click();
    await page.getByRole('button', { name: 'All hidden' }).click();
    await textMatches(listRow('ORD-LEGACY'), /hidden/, 'All hidden lists the legacy license');
    check(await listRow('ORD-1000').count() === 0, 'the unhidden license is no longer under All hidden');
  });

  await step('the history is a timeline naming each event’s actor', async () => {
    await page.getByRole('button', { name: 'All active' }).click();
    await listRow('ORD-1000').getByRole('link', { name: 'XDT_ENT_UD' }).click();
    const events = page.locator('ol.timeline li');
    const expected = ['Purchased', 'Activated', 'Allocated', 'Allocated', 'Modified', 'Returned', 'Hidden', 'Unhidden'];
    await until('eight events', async () => (await events.count()) === expected.length);
    const types = await events.evaluateAll((items) => items.map((item) => item.dataset.type));
    check(JSON.stringify(types) === JSON.stringify(expected), `the events in order: ${types}`);
    const allocated = events.filter({ hasText: '800 allocated to SRV-A' });
    await textMatches(allocated, new RegExp(`by ${portalSubject} \\(portal\\)`), 'an event names its actor');
    await textMatches(events.filter({ hasText: 'moved from SRV-B to SRV-C' }), /Modified/, 'the move is in the history');
    await shot('license');
  });

  await step('a license’s page shows the derived fields a list row shows: available, days left in its band', async () => {
    await page.getByRole('link', { name: 'Licenses', exact: true }).click();
    await page.getByRole('button', { name: 'All active' }).click();
    const listed = await listRow('ORD-MAC-50').locator('.days-red').textContent();
    check(/^20 days$/.test(listed), `the list shows 20 days left in red: ${listed}`);
    await listRow('ORD-MAC-50').getByRole('link', { name: 'XDT_PLT_UD' }).click();
    const facts = page.locator('dl.facts');
    await textMatches(facts.locator('.days-red'), new RegExp(`^${listed}$`), 'the page shows the same days left, in red');
    await textMatches(facts, /Available\s*50/, 'and what is available');
  });

  await step('a bulk selection refused as incompatible shows which license differs from the first, and how', async () => {
    await page.getByRole('link', { name: 'Licenses', exact: true }).click();
    await page.getByRole('button', { name: 'All active' }).click();
    await page.getByLabel('Select XDT_ENT_UD (ORD-1000)').check();
    await page.getByLabel('Select XDT_PLT_UD (ORD-MAC-50)').check();
    await textMatches(page.locator('#bulk-selection'), /2 licenses selected; .* first one, XDT_ENT_UD \(ORD-1000\)/, 'the first selected is named');
    await page.getByLabel('Select an action').selectOption({ label: 'Allocate licenses' });
    await page.getByLabel('License server host').fill('SRV-D');
    await page.getByRole('button', { name: 'Apply' }).click();
    await textMatches(page.locator('#bulk-selection-error'), /incompatible/, 'the refusal sits beside the selection');
    const differs = page.locator('.differences');
    await textMatches(differs, /Compared with the first selected license, XDT_ENT_UD \(ORD-1000\)/, 'the reference is named');
    await textMatches(differs, /XDT_PLT_UD \(ORD-MAC-50\): binding type is MAC address, the first selected license \(XDT_ENT_UD \(ORD-1000\)\) has host name/, 'the difference is spelled out');
    check(await listRow('ORD-MAC-50').getAttribute('class') === 'incompatible', 'the differing row is marked');
    await textMatches(listRow('ORD-MAC-50'), /Differs: binding type is MAC address/, 'the row says how it differs');
    check(await listRow('ORD-1000').getAttribute('class') === 'reference', 'the first selected row is marked');
    await textMatches(listRow('ORD-1000'), /800/, 'nothing was allocated');
    await shot('bulk-incompatible');
  });

  await step('Export to Excel (CSV) downloads the search', async () => {
    const file = await downloaded(page.getByRole('button', { name: 'Export to Excel (CSV)' }));
    check(file.name.endsWith('.csv'), `a .csv file: ${file.name}`);
    const lines = file.text.trim().split('\r\n');
    check(lines[0].startsWith('license_id,product,edition'), `the CSV header: ${lines[0]}`);
    check(lines.some((line) => line.includes('ORD-1000')) && lines.some((line) => line.includes('ORD-MAC-50')), `the CSV lists the licenses:\n${file.text}`);
    check(!lines.some((line) => line.includes('ORD-LEGACY')), 'the hidden license is not among the active ones');
  });

  await step('asset components toggle between order number and access code', async () => {
    await page.getByRole('link', { name: 'View my products' }).click();
    await textMatches(page.locator('details.group', { hasText: 'ORD-1000' }), /Order ORD-1000: 1,000 seats, 800 allocated/, 'grouped by order number');
    await page.getByLabel('License access code').check();
    const group = page.locator('details.group', { hasText: 'LA-1000-ACME' });
    await textMatches(group, /Access code LA-1000-ACME: 1,000 seats, 800 allocated/, 'grouped by access code');
    await group.locator('summary').click();
    await textMatches(group.locator('table'), /SRV-A \(800\)/, 'a group shows where its seats are');
    await textMatches(group.locator('table'), /ORD-1000/, 'and the other key');
    await shot('assets');
  });

  await step('the usage chart shows in use, installed and allowance per day, overdraft marked', async () => {
    await page.getByRole('link', { name: 'Usage' }).click();
    const figure = page.locator(`figure[data-server="${usageHost}"]`);
    await figure.waitFor();
    const days = await figure.locator('circle.point').count();
    check(days === usageDays, `a dot per reported day: ${days}`);
    const marked = await figure.locator('circle.point.overdraft, circle.point.exceeded').count();
    check(marked >= 1, 'days in overdraft are marked');
    check(await figure.locator('rect.installed').count() === usageDays, 'installed bars per day');
    check(await figure.locator('polyline.in-use').count() === 1 && await figure.locator('polyline.allowance').count() === 1, 'the in-use and allowance lines');
    await textMatches(figure.locator('figcaption'), new RegExp(`${usageDays} day\\(s\\) reported; ${marked} in overdraft`), 'the caption counts them');
    await shot('usage');
  });

  await step('as of the seeded instant the landing page and the list show the account before the story', async () => {
    const local = seededAt.toISOString().slice(0, 19);
    await page.getByLabel('As of').fill(local);
    await page.locator('#as-of-form').getByRole('button', { name: 'Show', exact: true }).click();
    await page.getByRole('link', { name: 'Home' }).click();
    await textMatches(page.locator('main .notice'), /As of .*rebuilt from the events/, 'the landing page says it is as of then');
    await textMatches(landingRow('new', 'XDT_ENT_UD'), /0 \/ 1,000/, 'nothing was allocated then');
    await page.getByRole('link', { name: 'Licenses', exact: true }).click();
    await textMatches(page.locator('main caption'), /Licenses as of/, 'the list says it is as of then');
    await textMatches(listRow('ORD-1000'), /1,000\s*0\s*1,000/, 'the list shows no seat allocated then');
    await page.locator('#as-of-form').getByRole('button', { name: 'Now' }).click();
    await page.getByRole('link', { name: 'Home' }).click();
    await textMatches(landingRow('new', 'XDT_ENT_UD'), /800 \/ 1,000/, 'now, 800 are allocated');
  });

  await step('an auditor sees the integrity badge and the as-of views, and no portal actions', async () => {
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
    check(await page.evaluate(() => sessionStorage.length) === 0, 'signing out forgets the token');
    await page.reload();
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
    await page.getByLabel('Bearer token').fill(auditorToken);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await textMatches(page.locator('#integrity-badge'), /Integrity verified: chains and checkpoint \d+/, 'the badge says chains and checkpoint verified');
    check((await page.locator('#integrity-badge').getAttribute('class')).includes('ok'), 'the badge is green');
    await textMatches(landingRow('new', 'XDT_ENT_UD'), /800 \/ 1,000/, 'the auditor\u2019s landing page is rebuilt from history');
    check(await page.getByRole('link', { name: 'Usage' }).isHidden(), 'no usage for an auditor');
    check(await page.getByRole('link', { name: 'Allocate licenses of XDT_ENT_UD (ORD-1000)' }).count() === 0, 'no allocation for an auditor');
    await page.getByLabel('As of').fill(seededAt.toISOString().slice(0, 19));
    await page.locator('#as-of-form').getByRole('button', { name: 'Show', exact: true }).click();
    await textMatches(landingRow('new', 'XDT_ENT_UD'), /0 \/ 1,000/, 'as of then, for the auditor too');
    await shot('auditor');
    await landingRow('new', 'XDT_ENT_UD').getByRole('link', { name: 'XDT_ENT_UD' }).click();
    await textMatches(page.locator('main .notice'), /version 2, folded from the license's events/, 'the license as of then: purchased and activated');
    await textMatches(page.locator('main'), /Nothing allocated\./, 'nothing was allocated then');
    await until('the whole history, to this day', async () => (await page.locator('ol.timeline li').count()) === 8);
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
  });
}

await steps.run(story, opened, shots);
