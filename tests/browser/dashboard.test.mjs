// The dashboard with JavaScript, as a person uses it, in one browser tab:
// sign in, upload, preview, share, replace, visibility, search, rename,
// delete, phone width, and a node going down. The steps run in order and build on each other.
// The JSON API is the second witness of every change.

import assert from 'node:assert/strict';
import { after, before } from 'node:test';

import {
    IMAGE_HEIGHT, IMAGE_WIDTH, REPLACEMENT_HEIGHT, REPLACEMENT_WIDTH, VIDEO_DURATION, dashboardUploads,
} from './lib/fixtures.mjs';
import {
    CDN_TOKEN, CDN_URL, NODE_TO_STOP, NODE_TO_STOP_PID, STEP_TIMEOUT, allContent, api, contentTotal,
    countText, exactly, expectGone, expectVisible, launchBrowser, newContext, pageSummary, screenshot,
    sizeText, testWithScreenshots,
} from './lib/harness.mjs';

/** How long the 20 MiB upload may take. */
const UPLOAD_TIMEOUT = 60_000;
/** How soon a stopped node must show as down (the page polls every 2 s). */
const DOWN_TIMEOUT = 10_000;

let browser;
let context;
let page;
let files;
/** What the API says was stored, by fixture key, once uploaded. */
const stored = {};

const test = testWithScreenshots(() => page);

before(async () => {
    files = dashboardUploads();
    browser = await launchBrowser();
    context = await newContext(browser);
    await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: CDN_URL });
    page = await context.newPage();
});

after(async () => {
    await browser?.close();
    files?.remove();
});

const table = () => page.getByRole('table', { name: 'Content' });
const details = () => page.getByRole('region', { name: 'Details' });
const card = (id) => page.getByRole('article', { name: `Node ${id}`, exact: true });
const countLine = (count) => page.locator('#content-count').filter({ hasText: exactly(countText(count)) });

/** The list's row of the object named `name`. */
function row(name) {
    return table().getByRole('row').filter({ has: page.getByRole('button', { name, exact: true }) });
}

/** Opens the details of `name` from the list and waits for its heading. */
async function openDetails(name) {
    await row(name).getByRole('button', { name, exact: true }).click();
    await expectVisible(details().getByRole('heading', { level: 2, name, exact: true }), `details of ${name}`);
}

function storedAs(key) {
    assert.ok(stored[key], `the ${key} upload did not succeed earlier, so this step cannot run`);
    return stored[key];
}

test('signing in: a wrong token shows an alert, the right one signs in', async () => {
    await page.goto(`${CDN_URL}/`);
    await expectVisible(page.getByRole('heading', { level: 1, name: 'Mini CDN' }), 'the page heading');
    await expectVisible(page.getByText('Sign in to see the content.'), 'the list asking to sign in');

    const signIn = page.getByRole('form', { name: 'Sign in' });
    await signIn.getByLabel('Access token', { exact: true }).fill('cdn_not_a_real_token');
    await signIn.getByRole('button', { name: 'Sign in', exact: true }).click();
    await expectVisible(signIn.getByRole('alert').filter({ hasText: /\S/ }), 'an alert for a wrong token');
    assert.equal(await page.getByRole('button', { name: 'Sign out' }).count(), 0, 'signed in with a wrong token');

    const { status, body: current } = await api('/tokens/current');
    assert.equal(status, 200, `GET /tokens/current with the admin token: ${JSON.stringify(current)}`);
    await signIn.getByLabel('Access token', { exact: true }).fill(CDN_TOKEN);
    await signIn.getByRole('button', { name: 'Sign in', exact: true }).click();
    await expectVisible(page.getByText(`Signed in as ${current.name}`), `"Signed in as ${current.name}"`);
    await expectVisible(page.getByRole('button', { name: 'Sign out', exact: true }), 'the Sign out button');

    assert.equal(await page.evaluate(() => sessionStorage.getItem('cdn-token')), CDN_TOKEN,
        'the token is kept in sessionStorage under cdn-token');
    assert.deepEqual(await context.cookies(), [], 'the token must never be a cookie');
});

test('uploading three files by the file input lists them with their sizes', { timeout: 120_000 }, async () => {
    const before = await contentTotal();
    const upload = page.getByRole('form', { name: 'Upload' });
    await upload.getByLabel('Visibility', { exact: true }).selectOption('private');
    await upload.getByLabel('Files', { exact: true }).setInputFiles([files.image.path, files.video.path, files.text.path]);
    await upload.getByRole('button', { name: 'Upload', exact: true }).click();

    const uploads = page.getByRole('list', { name: 'Uploads' });
    for (const file of [files.image, files.video, files.text]) {
        const item = uploads.getByRole('listitem').filter({ hasText: file.name });
        const outcome = item.getByText('Uploaded', { exact: true }).or(item.getByRole('alert'));
        await expectVisible(outcome, `the outcome of uploading ${file.name}`, { timeout: UPLOAD_TIMEOUT });
        const alert = item.getByRole('alert');
        if (await alert.isVisible()) assert.fail(`uploading ${file.name} failed: ${await alert.innerText()}`);
        const progress = item.getByRole('progressbar', { name: `Upload progress of ${file.name}`, exact: true });
        const [value, max] = await progress.evaluate((bar) => [bar.value, bar.max]);
        assert.equal(value, max, `the progress bar of ${file.name} ends full`);
    }

    for (const file of [files.image, files.video, files.text]) {
        await expectVisible(row(file.name).getByRole('cell', { name: sizeText(file.size), exact: true }),
            `the row of ${file.name} with the size ${sizeText(file.size)}`);
    }
    assert.equal(sizeText(files.video.size), '20.0 MiB');
    await expectVisible(countLine(before + 3), `the count "${countText(before + 3)}"`);
    await screenshot(page, 'content-list');

    const items = await allContent();
    for (const key of ['image', 'video', 'text']) {
        const file = files[key];
        const content = items.find((item) => item.filename === file.name);
        assert.ok(content, `the API lists ${file.name}; it has ${JSON.stringify(items.map((i) => i.filename))}`);
        assert.equal(content.size, file.size, `${file.name}: stored size`);
        assert.equal(content.sha256, file.sha256, `${file.name}: stored bytes`);
        assert.equal(content.visibility, 'private', `${file.name}: the visibility chosen in the form`);
        stored[key] = content;
    }
    assert.match(stored.video.content_type, /^video\/mp4/, 'the video keeps the type the browser sent');
});

test('the image preview loads and "Copy link" gives the versioned URL', async () => {
    const image = storedAs('image');
    await openDetails(image.filename);
    const preview = details().getByRole('img', { name: image.filename, exact: true });
    await expectVisible(preview, 'the image preview');
    const loaded = await page.waitForFunction((img) => img.complete && img.naturalWidth > 0,
        await preview.elementHandle(), { timeout: STEP_TIMEOUT }).then(() => true, () => false);
    const state = await preview.evaluate((img) => ({ src: img.src, complete: img.complete, width: img.naturalWidth,
        height: img.naturalHeight }));
    assert.ok(loaded, `the image preview never loaded: ${JSON.stringify(state)}`);
    assert.deepEqual([state.width, state.height], [IMAGE_WIDTH, IMAGE_HEIGHT], 'the preview shows the real picture');
    await expectVisible(details().getByText(sizeText(image.size)), 'the size in the details');

    await details().getByRole('button', { name: 'Copy link', exact: true }).click();
    const link = details().getByLabel('Link', { exact: true });
    await expectVisible(link, 'the Link field');
    assert.equal(await link.inputValue(), image.uri, 'the Link field shows the versioned URL');
    assert.equal(await page.evaluate(() => navigator.clipboard.readText()), image.uri, 'the clipboard holds it');
    await screenshot(page, 'details-image');
});

test('the text preview shows non-ASCII text as it is', async () => {
    const text = storedAs('text');
    await openDetails(text.filename);
    const preview = details().getByLabel('Text preview', { exact: true });
    await expectVisible(preview.filter({ hasText: 'Grüße' }), 'the text preview');
    assert.equal(await preview.textContent(), files.text.bytes.toString('utf8'), 'the previewed text');
});

test('the video plays from a seek: the bytes come by Range', async () => {
    const video = storedAs('video');
    const mediaResponses = [];
    const onResponse = (response) => {
        if (response.request().resourceType() === 'media') {
            mediaResponses.push({ status: response.status(), range: response.request().headers().range });
        }
    };
    page.on('response', onResponse);
    try {
        await openDetails(video.filename);
        const player = details().locator('video[controls]');
        await expectVisible(player, 'the video preview');
        const handle = await player.elementHandle();
        const metadata = await page.waitForFunction((v) => v.readyState >= 1 || v.error, handle,
            { timeout: STEP_TIMEOUT }).then(() => null, (err) => err);
        const state = await player.evaluate((v) => ({ src: v.currentSrc, readyState: v.readyState,
            preload: v.preload, error: v.error && v.error.message, duration: v.duration }));
        assert.ok(!metadata && !state.error, `the video never loaded its metadata: ${JSON.stringify(state)}`);
        assert.ok(Math.abs(state.duration - VIDEO_DURATION) < 0.5, `the video lasts ${state.duration} s`);

        const target = 7;
        const position = await player.evaluate((v, { target, timeout }) => new Promise((resolve, reject) => {
            const timer = setTimeout(() => reject(new Error(`no seeked event within ${timeout} ms`)), timeout);
            v.addEventListener('seeked', () => {
                clearTimeout(timer);
                resolve(v.currentTime);
            }, { once: true });
            v.currentTime = target;
        }), { target, timeout: STEP_TIMEOUT });
        assert.ok(Math.abs(position - target) < 0.5, `the video sought to ${position} s, not ${target} s`);
        const frameShown = await page.waitForFunction((v) => v.readyState >= 2, handle, { timeout: STEP_TIMEOUT })
            .then(() => true, () => false);
        assert.ok(frameShown, 'the video has a frame to show after the seek');
        assert.ok(mediaResponses.some((response) => response.status === 206),
            `no media request was answered 206 Partial Content: ${JSON.stringify(mediaResponses)}`);
        await screenshot(page, 'details-video');
    } finally {
        page.off('response', onResponse);
    }
});

test('a shared link opens in a fresh browser without a token', async () => {
    const image = storedAs('image');
    await openDetails(image.filename);
    await details().getByLabel('Expires in', { exact: true }).fill('10m');
    await details().getByRole('button', { name: 'Share', exact: true }).click();
    const shareLink = details().getByLabel('Share link', { exact: true });
    await expectVisible(shareLink, 'the Share link field');
    const filled = await page.waitForFunction((input) => /^https?:\/\//.test(input.value),
        await shareLink.elementHandle(), { timeout: STEP_TIMEOUT }).then(() => true, () => false);
    assert.ok(filled, `the Share link field holds no URL: "${await shareLink.inputValue()}"`);
    const url = await shareLink.inputValue();

    const stranger = await newContext(browser);
    try {
        const tab = await stranger.newPage();
        const refused = await tab.goto(`${CDN_URL}/content/${image.id}/data`);
        assert.ok(refused.status() === 401 || refused.status() === 403,
            `a private object without a token answered ${refused.status()}`);
        const shared = await tab.goto(url);
        assert.equal(shared.status(), 200, `the shared link answered ${shared.status()}`);
        assert.ok((await shared.body()).equals(files.image.bytes), 'the shared link gives the uploaded bytes');
    } finally {
        await stranger.close();
    }
});

test('replacing the image makes a new version; making it public opens it to all', async () => {
    const image = storedAs('image');
    // Opened afresh, the preview gets a new link; the replacement follows
    // at once, as when someone opens an image and swaps it straight away.
    await openDetails(storedAs('text').filename);
    await openDetails(image.filename);
    await expectVisible(details().getByRole('img', { name: image.filename, exact: true }), 'the image preview');
    await details().getByLabel('Replace with', { exact: true }).setInputFiles(files.replacement.path);
    await expectVisible(row(image.filename).getByRole('cell', { name: sizeText(files.replacement.size), exact: true }),
        `the row of ${image.filename} with the new size`);
    // The preview is a new element for the new version; find it by its alt.
    const shown = await page.waitForFunction(({ name, width, height }) => [...document.querySelectorAll('img')]
        .some((img) => img.alt === name && img.complete && img.naturalWidth === width && img.naturalHeight === height),
    { name: image.filename, width: REPLACEMENT_WIDTH, height: REPLACEMENT_HEIGHT }, { timeout: STEP_TIMEOUT })
        .then(() => true, () => false);
    const { body: replaced } = await api(`/content/${image.id}`);
    const previews = await page.evaluate((name) => [...document.querySelectorAll('img')]
        .filter((img) => img.alt === name)
        .map((img) => `${img.naturalWidth}x${img.naturalHeight} from ${img.src}`), image.filename);
    assert.ok(shown, `version ${replaced.version} is ${REPLACEMENT_WIDTH}x${REPLACEMENT_HEIGHT}, but the preview`
        + ` shows ${JSON.stringify(previews)}\n${await pageSummary(page)}`);
    assert.equal(replaced.version, image.version + 1, 'a replacement is a new version');
    assert.equal(replaced.sha256, files.replacement.sha256, 'the replacement\'s bytes are stored');
    assert.equal(replaced.filename, image.filename, 'a replacement keeps the name');

    await details().getByLabel('Visibility of this object', { exact: true }).selectOption('public');
    await expectVisible(row(image.filename).getByRole('cell', { name: 'public', exact: true }),
        `the row of ${image.filename} saying public`);
    const { body: opened } = await api(`/content/${image.id}`);
    assert.equal(opened.visibility, 'public');
    const stranger = await newContext(browser);
    try {
        const answer = await (await stranger.newPage()).goto(`${CDN_URL}/content/${image.id}/data`);
        assert.equal(answer.status(), 200, 'a public object is read without a token');
        assert.ok((await answer.body()).equals(files.replacement.bytes), 'the public bytes are the new version\'s');
    } finally {
        await stranger.close();
    }
    stored.image = opened;
});

test('search, type filter, size filter and sort agree with the API', async () => {
    const image = storedAs('image');
    const video = storedAs('video');
    const search = page.getByRole('search', { name: 'Search content' });
    const expectCount = async (query, what) => {
        const { body } = await api(`/content?${query}`);
        await expectVisible(countLine(body.total), `${what}: the count "${countText(body.total)}"`);
    };

    await search.getByLabel('Type', { exact: true }).selectOption({ label: 'Images' });
    await expectGone(row(video.filename), 'the video in a list of images');
    await expectVisible(row(image.filename), 'the image in a list of images');
    await expectCount('type=image/', 'images');
    await search.getByLabel('Type', { exact: true }).selectOption({ label: 'Any type' });

    await search.getByLabel('Name contains', { exact: true }).fill('PATTERN');
    await expectGone(row(image.filename), 'the image when searching "PATTERN"');
    await expectVisible(row(video.filename), 'the video when searching "PATTERN"');
    await expectCount('q=PATTERN', 'name contains PATTERN');
    await search.getByLabel('Name contains', { exact: true }).fill('');

    await search.getByLabel('Min size', { exact: true }).fill('1MiB');
    await expectGone(row(image.filename), 'the image at 1 MiB and more');
    await expectVisible(row(video.filename), 'the video at 1 MiB and more');
    await expectCount('min_size=1MiB', 'at least 1 MiB');
    await search.getByLabel('Min size', { exact: true }).fill('');

    await search.getByLabel('Sort', { exact: true }).selectOption({ label: 'Largest first' });
    const { body: bySize } = await api('/content?sort=size&order=desc&limit=1');
    const first = table().locator('tbody tr').first();
    await expectVisible(first.getByRole('button', { name: bySize.items[0].filename, exact: true }),
        `${bySize.items[0].filename} first when largest first`);
    await search.getByLabel('Sort', { exact: true }).selectOption({ label: 'Newest first' });
    await expectCount('', 'no filter');
});

test('renaming shows the new name in the list and the details', async () => {
    const text = storedAs('text');
    const newName = 'Grüße – renamed.txt';
    await openDetails(text.filename);
    await details().getByLabel('New name', { exact: true }).fill(newName);
    await details().getByRole('button', { name: 'Rename', exact: true }).click();
    await expectVisible(row(newName), `the row of ${newName}`);
    await expectGone(row(text.filename), `the row of the old name ${text.filename}`);
    await expectVisible(details().getByRole('heading', { level: 2, name: newName, exact: true }), 'the renamed details');
    const { body } = await api(`/content/${text.id}`);
    assert.equal(body.filename, newName, 'the API has the new name');
    stored.text = body;
});

test('deleting asks first, and Cancel keeps the object', async () => {
    const text = storedAs('text');
    const before = await contentTotal();
    await openDetails(text.filename);
    const dialog = page.getByRole('dialog');

    await details().getByRole('button', { name: 'Delete', exact: true }).click();
    await expectVisible(dialog.getByText(`Delete ${text.filename}?`, { exact: true }), 'the question in the dialog');
    await dialog.getByRole('button', { name: 'Cancel', exact: true }).click();
    await expectGone(dialog, 'the dialog after Cancel');
    assert.equal((await api(`/content/${text.id}`)).status, 200, 'Cancel deleted the object');

    await details().getByRole('button', { name: 'Delete', exact: true }).click();
    await dialog.getByRole('button', { name: 'Delete', exact: true }).click();
    await expectGone(row(text.filename), `the row of ${text.filename} after Delete`);
    await expectVisible(countLine(before - 1), `the count "${countText(before - 1)}"`);
    assert.equal((await api(`/content/${text.id}`)).status, 404, 'the API still has the deleted object');
});

test('at 390 px wide nothing scrolls sideways', async () => {
    const image = storedAs('image');
    await page.setViewportSize({ width: 390, height: 844 });
    try {
        await openDetails(image.filename);
        await expectVisible(details().getByRole('img', { name: image.filename, exact: true }), 'the image preview');
        const overflow = () => page.evaluate(() => ({
            scrollWidth: document.documentElement.scrollWidth,
            clientWidth: document.documentElement.clientWidth,
        }));
        let width = await overflow();
        assert.ok(width.scrollWidth <= width.clientWidth, `the content view scrolls sideways: ${JSON.stringify(width)}`);
        await screenshot(page, 'phone-content');

        await page.getByRole('navigation', { name: 'Views' }).getByRole('link', { name: 'Cluster', exact: true }).click();
        await expectVisible(card('node1'), 'the card of node1');
        width = await overflow();
        assert.ok(width.scrollWidth <= width.clientWidth, `the cluster view scrolls sideways: ${JSON.stringify(width)}`);
        await screenshot(page, 'phone-cluster');
    } finally {
        await page.setViewportSize({ width: 1280, height: 800 });
    }
});

test('the cluster view shows every node, the placements, and a stopped node as down',
    { skip: !NODE_TO_STOP_PID && 'NODE_TO_STOP_PID is not set' }, async () => {
        const { body: nodeList } = await api('/nodes', { token: null });
        const ids = nodeList.nodes.map((node) => node.id);
        assert.ok(ids.includes(NODE_TO_STOP), `${NODE_TO_STOP} is one of ${JSON.stringify(ids)}`);

        await page.getByRole('navigation', { name: 'Views' }).getByRole('link', { name: 'Cluster', exact: true }).click();
        const status = (id, text) => card(id).locator('.node-status').filter({ hasText: exactly(text) });
        for (const id of ids) {
            await expectVisible(status(id, 'up'), `${id} shown as up`);
            await expectVisible(page.getByRole('meter', { name: `Storage of ${id}`, exact: true }), `the storage bar of ${id}`);
        }
        await expectVisible(page.getByText(/Updated \d\d:\d\d:\d\d/), 'the "Updated HH:MM:SS" line');
        const video = storedAs('video');
        const placements = page.getByRole('table', { name: 'Latest placements' });
        await expectVisible(placements.getByRole('row').filter({ hasText: video.filename }).first(),
            `the placement of ${video.filename}`);

        process.kill(NODE_TO_STOP_PID, 'SIGKILL');
        const stopped = Date.now();
        await expectVisible(status(NODE_TO_STOP, 'down'), `${NODE_TO_STOP} shown as down`, { timeout: DOWN_TIMEOUT });
        const seconds = ((Date.now() - stopped) / 1000).toFixed(1);
        console.log(`${NODE_TO_STOP} showed as down ${seconds} s after it was killed`);
        for (const id of ids.filter((id) => id !== NODE_TO_STOP)) {
            assert.ok(await status(id, 'up').isVisible(), `${id} is still shown as up\n${await pageSummary(page)}`);
        }
        await screenshot(page, 'cluster-node-down');
    });
