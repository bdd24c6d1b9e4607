// The upload form without JavaScript: a plain HTML form post of several
// files ends on a page listing each of them (through 303 See Other), and a
// form without a file or without multipart encoding gets a clear error page
// and stores nothing.

import assert from 'node:assert/strict';
import { after, before } from 'node:test';

import { formUploads } from './lib/fixtures.mjs';
import {
    CDN_TOKEN, CDN_URL, allContent, api, contentTotal, expectVisible, launchBrowser, newContext, pageSummary,
    screenshot, testWithScreenshots,
} from './lib/harness.mjs';

/**
 * Opens a hand-written upload form that posts to the distributor, with the
 * token filled in. The dashboard's own form cannot be sent without a file
 * (its file input is required), and it has the right encoding; such a form
 * may have neither. It is written into a page of the distributor's own
 * origin: a form with a token field is taken only from this site's pages.
 */
async function handwrittenForm({ enctype }) {
    await page.goto(`${CDN_URL}/ui/app.css`);
    await page.setContent(`<!doctype html><title>Upload</title>
        <form method="post" action="${CDN_URL}/content"${enctype ? ` enctype="${enctype}"` : ''}>
          <label>Token <input type="password" name="token"></label>
          <label>File <input type="file" name="file"></label>
          <button>Send</button>
        </form>`);
    await page.getByLabel('Token', { exact: true }).fill(CDN_TOKEN);
}

let browser;
let context;
let page;
let files;

const test = testWithScreenshots(() => page);

before(async () => {
    files = formUploads();
    browser = await launchBrowser();
    context = await newContext(browser, { javaScriptEnabled: false });
    page = await context.newPage();
});

after(async () => {
    await browser?.close();
    files?.remove();
});

/**
 * Clicks `button`, which posts a form, and waits for the page it ends on.
 * Returns the answer to the POST (a redirect, if one) and the final one.
 */
async function submit(button) {
    const ended = page.waitForResponse((response) => response.request().isNavigationRequest()
        && response.frame() === page.mainFrame()
        && !(response.status() >= 300 && response.status() < 400));
    await button.click();
    const final = await ended;
    await page.waitForURL(final.url());
    let first = final.request();
    while (first.redirectedFrom()) first = first.redirectedFrom();
    assert.equal(first.method(), 'POST', 'the click posted the form');
    return { post: await first.response(), final };
}

/** The dashboard's upload form, with the token filled in. */
async function dashboardForm() {
    await page.goto(`${CDN_URL}/`);
    const form = page.getByRole('form', { name: 'Upload' });
    await expectVisible(form.getByLabel('Token', { exact: true }), 'the Token field of the upload form without JavaScript');
    await form.getByLabel('Token', { exact: true }).fill(CDN_TOKEN);
    return form;
}

/** Checks that the page is the form error page, its message matching `about`. */
async function expectUploadFailed(final, about) {
    assert.ok(final.status() >= 400 && final.status() < 500,
        `a refused form answers a 4xx, not ${final.status()}\n${await pageSummary(page)}`);
    await expectVisible(page.getByRole('heading', { level: 1, name: 'Upload failed', exact: true }),
        'the "Upload failed" heading');
    const message = await page.getByRole('alert').innerText();
    assert.match(message, about, `the error message "${message}" says what is wrong`);
    return message;
}

test('the dashboard says what works without JavaScript', async () => {
    await page.goto(`${CDN_URL}/`);
    // Playwright's text matching skips <noscript>, so its text is read.
    const note = page.locator('noscript');
    await expectVisible(note.locator('*').first(), 'the noscript note');
    assert.match(await note.innerText(), /The list and previews need JavaScript; the upload form works without it\./);
});

test('the form uploads every file and ends on the uploads page', async () => {
    const sent = [files.image, files.text, files.plain];
    const form = await dashboardForm();
    await form.getByLabel('Visibility', { exact: true }).selectOption('public');
    await form.getByLabel('Files', { exact: true }).setInputFiles(sent.map((file) => file.path));
    const { post, final } = await submit(form.getByRole('button', { name: 'Upload', exact: true }));

    assert.equal(post.status(), 303, `the form post answers 303 See Other, not ${post.status()}`);
    const landed = new URL(page.url());
    assert.equal(landed.pathname, '/ui/uploads', `the upload ends on the uploads page\n${await pageSummary(page)}`);
    assert.equal(final.status(), 200);
    await expectVisible(page.getByRole('heading', { level: 1, name: `Uploaded ${sent.length} files`, exact: true }),
        `"Uploaded ${sent.length} files"`);
    const ids = (landed.searchParams.get('ids') || '').split(',').filter(Boolean);
    assert.equal(ids.length, sent.length, `one id per file in ${page.url()}`);

    const items = await allContent();
    for (const file of sent) {
        const link = page.getByRole('link', { name: file.name, exact: true });
        await expectVisible(link, `the link to ${file.name}`);
        const content = items.find((item) => item.filename === file.name);
        assert.ok(content, `the API lists ${file.name}`);
        assert.ok(ids.includes(content.id), `${file.name} (${content.id}) is one of the ids ${ids}`);
        assert.equal(content.sha256, file.sha256, `${file.name}: stored bytes`);
        assert.equal(content.visibility, 'public', `${file.name}: the visibility chosen in the form`);
        assert.equal(new URL(await link.getAttribute('href'), page.url()).pathname, `/ui/content/${content.id}`);
    }
    await screenshot(page, 'no-js-uploaded');

    await page.getByRole('link', { name: files.image.name, exact: true }).click();
    await expectVisible(page.getByRole('heading', { level: 1, name: files.image.name, exact: true }),
        `the page of ${files.image.name}`);
    await screenshot(page, 'no-js-content');
});

test('a form without a file gets the "Upload failed" page', async () => {
    const before = await contentTotal();
    await handwrittenForm({ enctype: 'multipart/form-data' });
    const { final } = await submit(page.getByRole('button', { name: 'Send', exact: true }));
    await expectUploadFailed(final, /file/i);
    await screenshot(page, 'no-js-upload-failed');
    assert.equal(await contentTotal(), before, 'a form without a file stored something');
});

test('a form without multipart encoding gets a clear error and stores nothing', async () => {
    const before = await contentTotal();
    // Without enctype the browser sends only the file's name, URL-encoded.
    await handwrittenForm({ enctype: null });
    await page.getByLabel('File', { exact: true }).setInputFiles(files.stray.path);
    const { final } = await submit(page.getByRole('button', { name: 'Send', exact: true }));
    await expectUploadFailed(final, /multipart|enctype/i);
    await screenshot(page, 'no-js-without-enctype');
    const { body } = await api(`/content?q=${encodeURIComponent('must-not-be-stored')}`);
    assert.equal(body.total, 0, `the name of the file was stored: ${JSON.stringify(body.items)}`);
    assert.equal(await contentTotal(), before, 'a form without enctype stored something');
});
