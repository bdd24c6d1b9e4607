// Previews of one object's bytes. Media elements cannot send a bearer
// header, so a private object is shown through a short-lived presigned URL;
// text is fetched (with the header) and shown with textContent, never parsed.

import { contentPath, describe, request, share } from './api.js';
import { el } from './dom.js';
import { bareType } from './format.js';

const TEXT_PREVIEW_BYTES = 64 * 1024;
// Long enough to watch a video; the link is only ever used by this page.
const PREVIEW_LINK_LIFETIME = '1h';

const TEXT_TYPES = ['application/json', 'application/xml', 'application/javascript',
  'application/x-yaml', 'application/yaml', 'application/toml'];

/** Which preview an object gets, from its type; null when there is none. */
function previewKind(item) {
  const type = bareType(item.content_type).toLowerCase();
  if (type.startsWith('image/')) return 'image';
  if (type.startsWith('video/')) return 'video';
  if (type.startsWith('audio/')) return 'audio';
  if (type === 'application/pdf') return 'pdf';
  if (type.startsWith('text/') || TEXT_TYPES.includes(type) || /\+(json|xml)$/.test(type)) return 'text';
  return null;
}

/** A URL of the bytes that a media element on this page may load. */
async function mediaSource(item) {
  if (item.visibility !== 'private') {
    return `${contentPath(item.id)}/data?v=${encodeURIComponent(item.version)}`;
  }
  const link = await share(item.id, PREVIEW_LINK_LIFETIME);
  // A link signed in the same second for a new version is the same URL, and
  // the page would show the image it already holds: name the version.
  return `${link.local}&v=${encodeURIComponent(item.version)}`;
}

/** Reads at most `limit` bytes of a body, whether or not the server honoured Range. */
async function readStart(response, limit) {
  const reader = response.body.getReader();
  const chunks = [];
  let length = 0;
  while (length < limit) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    length += value.length;
  }
  if (length >= limit) reader.cancel().catch(() => {});
  const bytes = new Uint8Array(Math.min(length, limit));
  let offset = 0;
  for (const chunk of chunks) {
    const part = chunk.subarray(0, bytes.length - offset);
    bytes.set(part, offset);
    offset += part.length;
  }
  return bytes;
}

async function textPreview(item) {
  const path = `${contentPath(item.id)}/data?v=${encodeURIComponent(item.version)}`;
  const response = await request('GET', path, { headers: { Range: `bytes=0-${TEXT_PREVIEW_BYTES - 1}` } });
  const bytes = await readStart(response, TEXT_PREVIEW_BYTES);
  // `stream: true` drops a character cut in half at the 64 KiB mark.
  const text = new TextDecoder('utf-8').decode(bytes, { stream: true });
  // A focusable region, so that a long text can be scrolled with the keyboard
  // and its label is announced (a bare <pre> cannot carry a name).
  const pre = el('pre', { role: 'region', 'aria-label': 'Text preview', tabindex: '0', text });
  const cut = item.size > TEXT_PREVIEW_BYTES
    ? el('p', { class: 'muted', text: 'Showing the first 64 KiB.' })
    : null;
  return [pre, cut];
}

async function mediaPreview(kind, item) {
  const src = await mediaSource(item);
  switch (kind) {
    case 'image':
      return [el('img', { src, alt: item.filename, decoding: 'async' })];
    case 'video':
      return [el('video', { src, controls: true, preload: 'metadata', playsinline: true })];
    case 'audio':
      return [el('audio', { src, controls: true, preload: 'metadata' })];
    default:
      return [el('iframe', { src, title: 'PDF preview' })];
  }
}

let generation = 0;

/**
 * Fills `container` with a preview of `item`. A newer call wins: an older
 * one that finishes late leaves the container alone.
 */
export async function showPreview(container, item) {
  generation += 1;
  const mine = generation;
  const kind = previewKind(item);
  if (!kind) {
    container.replaceChildren(el('p', { class: 'muted', text: 'No preview for this type.' }));
    return;
  }
  container.replaceChildren(el('p', { class: 'muted', text: 'Loading the preview…' }));
  let parts;
  try {
    parts = kind === 'text' ? await textPreview(item) : await mediaPreview(kind, item);
  } catch (error) {
    parts = [el('p', { class: 'error', text: `No preview: ${describe(error)}` })];
  }
  if (mine === generation) container.replaceChildren(...parts.filter(Boolean));
}

/** Stops a playing preview and forgets it. */
export function clearPreview(container) {
  generation += 1;
  container.replaceChildren();
}
