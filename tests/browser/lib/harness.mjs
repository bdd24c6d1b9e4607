// What every browser test shares: the stack under test (from the
// environment), Chromium, the JSON API as a second witness, screenshots,
// and waits that end with a message saying what was missing.

import { existsSync, mkdirSync } from 'node:fs';
import { delimiter, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import { test } from 'node:test';

import { chromium } from 'playwright-core';

const here = dirname(fileURLToPath(import.meta.url));

function required(name) {
    const value = process.env[name];
    if (!value) {
        throw new Error(`${name} is not set: run these tests through the Rust test that starts a stack`
            + ' (cargo test -p cdn-dist --test api dashboard -- --include-ignored)');
    }
    return value;
}

/** The distributor under test, without a trailing slash. */
export const CDN_URL = required('CDN_URL').replace(/\/+$/, '');
/** A token with every scope. */
export const CDN_TOKEN = required('CDN_TOKEN');
/** The node the cluster test stops, and its process id (absent: not stopped). */
export const NODE_TO_STOP = process.env.NODE_TO_STOP || 'node2';
export const NODE_TO_STOP_PID = Number(process.env.NODE_TO_STOP_PID) || null;
export const SCREENSHOT_DIR = resolve(process.env.SCREENSHOT_DIR || join(here, '../../../artifacts/screenshots'));

/** The default deadline of one action or wait in the page. */
export const STEP_TIMEOUT = 10_000;

// Chromium talks to the stack under test and nothing else: no background
// networking, updates or sync. CI runs it as root, hence no sandbox.
const CHROMIUM_ARGS = [
    '--no-sandbox',
    '--disable-gpu',
    '--disable-quic',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
];

/** Chromium from the system: `CHROMIUM` if set, else the first on PATH. */
function chromiumPath() {
    if (process.env.CHROMIUM) return process.env.CHROMIUM;
    for (const dir of (process.env.PATH || '').split(delimiter)) {
        for (const name of ['chromium', 'chromium-browser']) {
            const candidate = join(dir, name);
            if (dir && existsSync(candidate)) return candidate;
        }
    }
    throw new Error('no Chromium on PATH: install the chromium package (or set CHROMIUM)');
}

export async function launchBrowser() {
    return chromium.launch({
        executablePath: chromiumPath(),
        headless: true,
        args: CHROMIUM_ARGS,
        timeout: 60_000,
    });
}

/** A fresh context (no token, no storage) with the deadlines set. */
export async function newContext(browser, options = {}) {
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, ...options });
    context.setDefaultTimeout(STEP_TIMEOUT);
    context.setDefaultNavigationTimeout(30_000);
    return context;
}

/** Saves a full-page PNG of `page` as `name`.png. */
export async function screenshot(page, name) {
    mkdirSync(SCREENSHOT_DIR, { recursive: true });
    await page.screenshot({ path: join(SCREENSHOT_DIR, `${name}.png`), fullPage: true });
}

/**
 * `test` of `node:test` that, when the test fails, saves a screenshot of
 * `currentPage()` named after it: CI keeps a picture of what went wrong.
 */
export function testWithScreenshots(currentPage) {
    return (name, ...rest) => {
        const body = rest.pop();
        test(name, ...rest, async (t) => {
            try {
                await body(t);
            } catch (err) {
                const page = currentPage();
                const slug = name.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '').slice(0, 60);
                if (page) await screenshot(page, `failed-${slug}`).catch(() => {});
                throw err;
            }
        });
    };
}

/**
 * Calls the distributor's JSON API, as the admin unless `token` is null.
 * Returns the status and the decoded body (null for an empty one).
 */
export async function api(path, { method = 'GET', token = CDN_TOKEN, json } = {}) {
    const headers = { accept: 'application/json' };
    if (token) headers.authorization = `Bearer ${token}`;
    if (json !== undefined) headers['content-type'] = 'application/json';
    const response = await fetch(`${CDN_URL}${path}`, {
        method,
        headers,
        body: json === undefined ? undefined : JSON.stringify(json),
        signal: AbortSignal.timeout(STEP_TIMEOUT),
    });
    const text = await response.text();
    let body = null;
    if (text) {
        try {
            body = JSON.parse(text);
        } catch {
            body = text;
        }
    }
    return { status: response.status, body };
}

/** How many objects the distributor lists. */
export async function contentTotal() {
    const { status, body } = await api('/content?limit=1');
    if (status !== 200) throw new Error(`GET /content answered ${status}: ${JSON.stringify(body)}`);
    return body.total;
}

/** Every object the distributor lists (a test stack holds a few). */
export async function allContent() {
    const { status, body } = await api('/content?limit=100');
    if (status !== 200) throw new Error(`GET /content answered ${status}: ${JSON.stringify(body)}`);
    return body.items;
}

/** The size as the dashboard shows it: "N B" under 1 KiB, else one decimal. */
export function sizeText(bytes) {
    if (bytes < 1024) return `${bytes} B`;
    const units = ['KiB', 'MiB', 'GiB'];
    let value = bytes / 1024;
    let unit = 0;
    while (value >= 1024 && unit < units.length - 1) {
        value /= 1024;
        unit += 1;
    }
    return `${value.toFixed(1)} ${units[unit]}`;
}

/** The count line of the content list: "1 item", "3 items". */
export function countText(count) {
    return `${count} ${count === 1 ? 'item' : 'items'}`;
}

/** A pattern matching exactly `text`, surrounding white space allowed. */
export function exactly(text) {
    return new RegExp(`^\\s*${text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\s*$`);
}

/**
 * Waits for `locator`, and when it does not come names `what` and adds
 * what the page says instead (its URL, headings and alerts).
 */
export async function expectVisible(locator, what, { timeout = STEP_TIMEOUT } = {}) {
    try {
        await locator.waitFor({ state: 'visible', timeout });
    } catch (err) {
        throw new Error(`${what}: not seen within ${timeout} ms\n${await pageSummary(locator.page())}`, {
            cause: err,
        });
    }
}

/** Waits until `locator` is gone from the page (or hidden). */
export async function expectGone(locator, what, { timeout = STEP_TIMEOUT } = {}) {
    try {
        await locator.waitFor({ state: 'hidden', timeout });
    } catch (err) {
        throw new Error(`${what}: still there after ${timeout} ms\n${await pageSummary(locator.page())}`, {
            cause: err,
        });
    }
}

/** The page's URL, headings and alerts, for failure messages. */
export async function pageSummary(page) {
    try {
        const headings = await page.getByRole('heading').allInnerTexts();
        const alerts = await page.getByRole('alert').allInnerTexts();
        return `  page: ${page.url()}\n  headings: ${JSON.stringify(headings)}\n  alerts: ${JSON.stringify(alerts)}`;
    } catch (err) {
        return `  page: ${page.url()} (not readable: ${err.message})`;
    }
}
