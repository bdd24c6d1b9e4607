// The details of one object and what can be done to it: copy or share a
// link, rename, replace, change visibility, delete. After each change the
// object is read again and the list is told to refresh.

import { call, contentPath, describe, sendFile, share } from './api.js';
import { byId, el, emit, on, show } from './dom.js';
import { bareType, formatSize, formatTime } from './format.js';
import { clearPreview, showPreview } from './preview.js';

let current = null;

function say(message) {
  byId('details-status').textContent = message;
  show(byId('details-error'), '');
}

function fail(error) {
  byId('details-status').textContent = '';
  const alert = byId('details-error');
  show(alert, describe(error));
  // The action may sit far below the message in a scrolled panel.
  alert.scrollIntoView({ block: 'nearest' });
}

function renderCopies(replicas) {
  const items = (replicas || []).map((replica) => el('li', {},
    el('span', { class: 'mono', text: replica.node }), ' ',
    el('span', { class: `badge ${replica.status}`, text: replica.status })));
  if (items.length === 0) items.push(el('li', { class: 'muted', text: 'none' }));
  byId('details-copies').replaceChildren(...items);
}

function renderLinks(item) {
  const links = byId('details-links');
  if (item.visibility === 'private') {
    links.replaceChildren(el('span', { class: 'muted',
      text: 'Private: its link needs a token. Use Share for a link that works without one.' }));
    return;
  }
  const download = new URL(item.uri, location.href);
  download.searchParams.set('download', '1');
  links.replaceChildren(
    el('a', { href: item.uri, target: '_blank', rel: 'noopener', text: 'Open' }), ' · ',
    el('a', { href: download.href, text: 'Download' }));
}

/** Writes an object's facts into the panel; the preview is separate. */
function renderFacts(item) {
  byId('details-name').textContent = item.filename;
  byId('details-size').textContent = `${formatSize(item.size)} (${item.size} bytes)`;
  byId('details-type').textContent = bareType(item.content_type) || 'unknown';
  byId('details-version').textContent = String(item.version);
  byId('details-visibility').textContent = item.visibility || 'public';
  byId('details-updated').textContent = formatTime(item.updated_at);
  byId('details-sha256').textContent = item.sha256;
  byId('details-link').value = item.uri;
  byId('new-name').value = item.filename;
  byId('details-visibility-select').value = item.visibility || 'public';
  renderCopies(item.replicas);
  renderLinks(item);
  for (const image of byId('preview').querySelectorAll('img')) image.alt = item.filename;
}

/** Shows another object, or the same one after a change. */
function render(item) {
  const previous = current;
  current = item;
  renderFacts(item);
  const sameBytes = previous && previous.id === item.id
    && previous.version === item.version && previous.visibility === item.visibility;
  if (!sameBytes) showPreview(byId('preview'), item);
}

function open(item) {
  const switching = !current || current.id !== item.id;
  if (switching) {
    current = null;
    say('');
    byId('share-result').hidden = true;
    byId('share-expires').value = '1h';
  }
  render(item);
  const panel = byId('details');
  panel.hidden = false;
  byId('details-name').focus();
  panel.scrollIntoView({ block: 'nearest' });
}

function close() {
  current = null;
  clearPreview(byId('preview'));
  byId('details').hidden = true;
  emit('closed');
}

/** Shows the object as the server returned it after a change, and tells the list. */
function changed(updated, message) {
  render(updated);
  say(message);
  emit('changed', updated);
}

async function copyLink() {
  const input = byId('details-link');
  input.value = current.uri;
  try {
    await navigator.clipboard.writeText(current.uri);
    say('Link copied.');
  } catch {
    // The clipboard needs a secure page and the user's leave: offer the text.
    input.focus();
    input.select();
    say('The link is selected: copy it with Ctrl+C (⌘C on a Mac).');
  }
}

async function shareLink(event) {
  event.preventDefault();
  const expiresIn = byId('share-expires').value.trim() || '1h';
  try {
    const link = await share(current.id, expiresIn);
    byId('share-link').value = link.url;
    byId('share-expiry').textContent = `Works until ${formatTime(link.expires_at)}.`;
    byId('share-result').hidden = false;
    byId('share-link').select();
    say('Share link made.');
  } catch (error) {
    fail(error);
  }
}

async function patch(body, message) {
  const updated = await call('PATCH', contentPath(current.id), { json: body });
  changed(updated, message);
}

async function rename(event) {
  event.preventDefault();
  const name = byId('new-name').value.trim();
  if (!name) {
    fail(new Error('Type a new name first.'));
    return;
  }
  try {
    await patch({ filename: name }, `Renamed to ${name}.`);
    byId('details-name').focus();
  } catch (error) {
    fail(error);
  }
}

async function changeVisibility() {
  const select = byId('details-visibility-select');
  try {
    await patch({ visibility: select.value }, `Now ${select.value}.`);
  } catch (error) {
    select.value = current.visibility || 'public';
    fail(error);
  }
}

async function replace() {
  const input = byId('replace-file');
  const file = input.files && input.files[0];
  if (!file) return;
  const progress = byId('replace-progress');
  progress.value = 0;
  progress.max = Math.max(file.size, 1);
  progress.hidden = false;
  say(`Replacing with ${file.name}…`);
  try {
    const updated = await sendFile({
      method: 'PUT',
      path: contentPath(current.id),
      file,
      // The replacement keeps its visibility; saying it again would need
      // `read` as well as `write`.
      onProgress: (loaded) => { progress.value = loaded; },
    });
    changed(updated, `Replaced: now version ${updated.version}.`);
  } catch (error) {
    fail(error);
  } finally {
    progress.hidden = true;
    input.value = '';
  }
}

function askDelete() {
  const dialog = byId('delete-dialog');
  byId('delete-title').textContent = `Delete ${current.filename}?`;
  dialog.returnValue = '';
  dialog.showModal();
}

async function confirmDelete() {
  if (byId('delete-dialog').returnValue !== 'delete' || !current) return;
  const gone = current;
  try {
    await call('DELETE', contentPath(gone.id));
    close();
    byId('content-status').textContent = `Deleted ${gone.filename}.`;
    byId('content-heading').focus();
    emit('changed', null);
  } catch (error) {
    fail(error);
  }
}

export function initDetails() {
  byId('details-close').addEventListener('click', () => {
    close();
    byId('content-heading').focus();
  });
  byId('copy-link').addEventListener('click', copyLink);
  byId('share-form').addEventListener('submit', shareLink);
  byId('rename-form').addEventListener('submit', rename);
  byId('details-visibility-select').addEventListener('change', changeVisibility);
  byId('replace-file').addEventListener('change', replace);
  byId('delete-button').addEventListener('click', askDelete);
  byId('delete-dialog').addEventListener('close', confirmDelete);
  on('open', open);
  // Another token may not read what the last one could.
  on('session', () => { if (current) close(); });
}
