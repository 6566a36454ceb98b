// What the console's browser runs share: their settings, Debian's chromium
// started headless through Playwright, waiting on what the page shows, timed
// steps, screenshots and downloads. story.mjs (the seeds' story) and scale.mjs
// (one large account) import it.

import fs from 'node:fs/promises';
import path from 'node:path';
import { chromium } from 'playwright-core';

/** Environment variable `name`; fails when it is not set. */
export function setting(name) {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: run bash deploy/console-test.sh`);
  return value;
}

/** How long a wait on the page may take before it fails. */
export const WAIT_MS = 10_000;

/** Waits until `probe()` answers truthy; fails naming `what` and the last answer. */
export async function until(what, probe, waitMs = WAIT_MS) {
  const deadline = Date.now() + waitMs;
  let last;
  for (;;) {
    try {
      last = await probe();
      if (last) return last;
    } catch (error) {
      last = error.message;
    }
    if (Date.now() > deadline) throw new Error(`${what} (last seen: ${JSON.stringify(last)})`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Waits until `locator`'s text matches `pattern`; answers the text. */
export async function textMatches(locator, pattern, what, waitMs = WAIT_MS) {
  return until(`${what}: expected ${pattern}`, async () => {
    const text = (await locator.first().textContent({ timeout: 1000 })) || '';
    return pattern.test(text) ? text : false;
  }, waitMs);
}

export function check(condition, message) {
  if (!condition) throw new Error(message);
}

/**
 * Starts chromium with a page on a laptop-sized screen, in UTC (so the as-of
 * picker's local time is the seeded instant's), and collects what the page
 * reports as errors. A refused request (a 422, a bad token's 401) is logged by
 * the browser as a failed load: expected. Anything else logged as an error is not.
 */
export async function open() {
  const browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  const context = await browser.newContext({
    viewport: { width: 1366, height: 900 },
    locale: 'en-US',
    timezoneId: 'UTC',
    acceptDownloads: true,
  });
  const page = await context.newPage();
  page.setDefaultTimeout(WAIT_MS);
  const errors = [];
  page.on('pageerror', (error) => errors.push(error.message));
  page.on('console', (message) => {
    if (message.type() === 'error' && !message.text().startsWith('Failed to load resource')) {
      errors.push(message.text());
    }
  });
  return { browser, page, errors };
}

/** Runs named steps on `page`, each timed, failing on any error the page reported. */
export class Steps {
  constructor(name, errors) {
    this.name = name;
    this.errors = errors;
    this.count = 0;
    this.started = Date.now();
  }

  async step(title, body) {
    const at = Date.now();
    await body();
    check(this.errors.length === 0, `the page reported errors: ${this.errors.join(' | ')}`);
    this.count += 1;
    console.log(`${this.name}: ok   ${title} (${Date.now() - at} ms)`);
  }

  /**
   * Runs `all()`, then says how it went; on a failure, saves failure.png into
   * `shots` and sets a failing exit code. Closes the browser either way.
   */
  async run(all, { browser, page }, shots) {
    try {
      await all();
      console.log(`${this.name}: every step held (${this.count} steps in ${((Date.now() - this.started) / 1000).toFixed(1)} s); screenshots in ${shots}`);
    } catch (error) {
      console.error(`${this.name}: FAILED after ${this.count} steps: ${error.stack || error}`);
      await page.screenshot({ path: path.join(shots, 'failure.png'), fullPage: true }).catch(() => {});
      process.exitCode = 1;
    } finally {
      await browser.close();
    }
  }
}

/** A screenshot of `page` down to the end of its content, as `shots/name.png`. */
export async function shot(page, shots, name) {
  const height = await page.evaluate(() =>
    Math.ceil(document.querySelector('main').getBoundingClientRect().bottom + window.scrollY) + 24);
  const { width } = page.viewportSize();
  await page.screenshot({ path: path.join(shots, `${name}.png`), fullPage: true, clip: { x: 0, y: 0, width, height } });
}

/** Clicks `trigger` and answers the downloaded file's name and text. */
export async function downloaded(page, trigger, waitMs = WAIT_MS) {
  const [download] = await Promise.all([page.waitForEvent('download', { timeout: waitMs }), trigger.click()]);
  const file = await download.path();
  return { name: download.suggestedFilename(), text: await fs.readFile(file, 'utf8') };
}
