// The files the tests upload, written to a temporary folder under the
// names the dashboard must show: an image, a 20 MiB video and a text file
// with non-ASCII text (and name).
//
// Committed in `fixtures`: `picture.png` (160x120) and `replacement.png`
// (96x72), test patterns; `clip.mp4`, a 10 s 320x240 VP9 test pattern in
// MP4 with its index first and a key frame every second, so that a player
// can seek in it; `greetings.txt`, UTF-8 text in several scripts.

import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const fixtures = join(dirname(fileURLToPath(import.meta.url)), '../fixtures');

/** The size of the video upload: big enough that seeking needs Range. */
export const VIDEO_SIZE = 20 * 1024 * 1024;

/** The committed image: its pixel size, for the preview check. */
export const IMAGE_WIDTH = 160;
export const IMAGE_HEIGHT = 120;

/** The committed replacement image: its pixel size. */
export const REPLACEMENT_WIDTH = 96;
export const REPLACEMENT_HEIGHT = 72;

/** The committed clip lasts this long, in seconds. */
export const VIDEO_DURATION = 10;

/**
 * `clip` followed by an MP4 `free` box that brings it to exactly `size`
 * bytes. Players skip `free` boxes, so it plays as the clip does.
 */
function padWithFreeBox(clip, size) {
    const padding = size - clip.length;
    if (padding < 8) throw new Error(`the clip (${clip.length} bytes) leaves no room for a free box`);
    const box = Buffer.alloc(padding);
    box.writeUInt32BE(padding, 0);
    box.write('free', 4, 'latin1');
    return Buffer.concat([clip, box]);
}

function sha256(bytes) {
    return createHash('sha256').update(bytes).digest('hex');
}

/**
 * Writes `files` ({key: {name, bytes, folder?}}) into a fresh temporary
 * folder (a file with `folder` into a subfolder, so that two files can
 * share a name); returns them with their paths and digests, and
 * `remove()` for the folder.
 */
function writeAll(files) {
    const dir = mkdtempSync(join(tmpdir(), 'cdn-browser-'));
    const written = {};
    for (const [key, { name, bytes, folder = '' }] of Object.entries(files)) {
        mkdirSync(join(dir, folder), { recursive: true });
        const path = join(dir, folder, name);
        writeFileSync(path, bytes);
        written[key] = { name, path, bytes, size: bytes.length, sha256: sha256(bytes) };
    }
    written.remove = () => rmSync(dir, { recursive: true, force: true });
    return written;
}

const picture = () => readFileSync(join(fixtures, 'picture.png'));
const greetings = () => readFileSync(join(fixtures, 'greetings.txt'));

/**
 * The three files of the JavaScript upload (image, video, text), and a
 * different picture of the image's name to replace it with.
 */
export function dashboardUploads() {
    return writeAll({
        image: { name: 'test-card.png', bytes: picture() },
        replacement: { name: 'test-card.png', bytes: readFileSync(join(fixtures, 'replacement.png')), folder: 'new' },
        video: { name: 'test-pattern.mp4', bytes: padWithFreeBox(readFileSync(join(fixtures, 'clip.mp4')), VIDEO_SIZE) },
        text: { name: 'Grüße – notes.txt', bytes: greetings() },
    });
}

/** The files of the upload without JavaScript, one of them named in Unicode. */
export function formUploads() {
    return writeAll({
        image: { name: 'form-card.png', bytes: picture() },
        text: { name: 'Überblick.txt', bytes: greetings() },
        plain: { name: 'form-plain.txt', bytes: Buffer.from('Sent by a plain HTML form.\n') },
        stray: { name: 'must-not-be-stored.png', bytes: picture() },
    });
}
