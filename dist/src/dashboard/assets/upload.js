// The upload form. Without JavaScript it posts as a plain multipart form;
// here it is taken over so that each file goes up on its own request, with a
// progress bar and its own outcome, and files can be dropped on it.

import { describe, sendFile } from './api.js';
import { byId, el, emit } from './dom.js';

/** One `<li>` of the Uploads list, with the parts that change. */
function entryFor(file) {
  const progress = el('progress', {
    'aria-label': `Upload progress of ${file.name}`,
    max: Math.max(file.size, 1),
    value: 0,
  });
  const state = el('span', { class: 'upload-state muted', text: 'Waiting' });
  const item = el('li', { class: 'upload-item' },
    el('span', { class: 'upload-name', text: file.name }), progress, state);
  return { item, progress, state };
}

function showProgress(entry, loaded, total) {
  entry.progress.max = Math.max(total, 1);
  entry.progress.value = loaded;
  // Once every byte is sent the server still writes the copies to the nodes.
  entry.state.textContent = loaded >= total
    ? 'Storing…'
    : `${Math.floor((loaded / Math.max(total, 1)) * 100)}%`;
}

function showDone(entry) {
  entry.progress.value = entry.progress.max;
  entry.state.className = 'upload-state ok';
  entry.state.textContent = 'Uploaded';
}

function showFailure(entry, error) {
  entry.progress.classList.add('failed');
  const alert = el('span', { class: 'upload-state error', role: 'alert', text: describe(error) });
  entry.state.replaceWith(alert);
  entry.state = alert;
}

/**
 * Uploads the files one after the other, so that each has the whole link
 * and the first ones are listed soonest.
 */
async function uploadAll(files) {
  if (files.length === 0) return;
  const list = byId('upload-list');
  const visibility = byId('upload-visibility').value;
  const entries = files.map((file) => ({ file, ...entryFor(file) }));
  list.replaceChildren(...entries.map((entry) => entry.item));
  for (const entry of entries) {
    entry.state.textContent = '0%';
    try {
      const stored = await sendFile({
        method: 'POST',
        path: '/content',
        file: entry.file,
        visibility,
        onProgress: (loaded, total) => showProgress(entry, loaded, total),
      });
      showDone(entry);
      emit('changed', stored);
    } catch (error) {
      showFailure(entry, error);
    }
  }
}

function onSubmit(event) {
  event.preventDefault();
  const input = byId('upload-files');
  const files = Array.from(input.files || []);
  if (files.length === 0) {
    const hint = el('li', { class: 'upload-item' },
      el('span', { class: 'error', role: 'alert', text: 'Choose one or more files first.' }));
    byId('upload-list').replaceChildren(hint);
    input.focus();
    return;
  }
  input.value = '';
  uploadAll(files);
}

const carriesFiles = (event) => Array.from(event.dataTransfer?.types || []).includes('Files');

function wireDropZone() {
  const zone = byId('drop-zone');
  const leave = () => zone.classList.remove('dragging');
  zone.addEventListener('dragenter', (event) => {
    if (!carriesFiles(event)) return;
    event.preventDefault();
    zone.classList.add('dragging');
  });
  zone.addEventListener('dragover', (event) => {
    if (!carriesFiles(event)) return;
    event.preventDefault();
    event.dataTransfer.dropEffect = 'copy';
  });
  zone.addEventListener('dragleave', (event) => {
    if (!zone.contains(event.relatedTarget)) leave();
  });
  zone.addEventListener('drop', (event) => {
    event.preventDefault();
    leave();
    uploadAll(Array.from(event.dataTransfer.files || []));
  });
  // A file dropped next to the zone would otherwise replace the dashboard.
  for (const type of ['dragover', 'drop']) {
    window.addEventListener(type, (event) => {
      if (carriesFiles(event) && !zone.contains(event.target)) event.preventDefault();
    });
  }
}

export function initUpload() {
  // The page's own check says more than the browser's "fill in this field".
  byId('upload-files').required = false;
  byId('upload-form').noValidate = true;
  byId('upload-form').addEventListener('submit', onSubmit);
  wireDropZone();
}
