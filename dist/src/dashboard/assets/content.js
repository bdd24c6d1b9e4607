// The content list: search form, table, count and paging. Pages follow the
// server's cursors; the cursors of earlier pages are kept for "Previous".

import { call, currentToken, describe, query } from './api.js';
import { byId, el, emit, on, show } from './dom.js';
import { bareType, formatSize, formatTime, plural } from './format.js';

const PAGE_SIZE = 25;
// Typing in a text field waits this long for the next key before asking.
const TYPING_PAUSE_MS = 300;

const paging = { cursors: [null], page: 0, next: null };
let selectedId = null;
let inFlight = null;

function filters() {
  const [sort, order] = byId('search-sort').value.split(':');
  return {
    q: byId('search-name').value.trim(),
    type: byId('search-type').value,
    min_size: byId('search-min').value.trim(),
    max_size: byId('search-max').value.trim(),
    sort,
    order,
  };
}

const filtering = ({ q, type, min_size: min, max_size: max }) => Boolean(q || type || min || max);

function rowFor(item) {
  const open = el('button', {
    type: 'button', class: 'link-button', 'aria-controls': 'details', text: item.filename,
  });
  open.addEventListener('click', () => emit('open', item));
  const visibility = item.visibility || 'public';
  return el('tr', { 'data-id': item.id, 'aria-current': item.id === selectedId ? 'true' : null },
    el('td', { class: 'name', 'data-label': 'Name' }, open),
    el('td', { 'data-label': 'Type', text: bareType(item.content_type) }),
    el('td', { class: 'num', 'data-label': 'Size', text: formatSize(item.size) }),
    el('td', { 'data-label': 'Visibility' },
      el('span', { class: `badge ${visibility}`, text: visibility })),
    el('td', { 'data-label': 'Updated' },
      el('time', { datetime: item.updated_at, title: item.updated_at, text: formatTime(item.updated_at) })));
}

function renderPage(list, asked) {
  const items = Array.isArray(list.items) ? list.items : [];
  byId('content-rows').replaceChildren(...items.map(rowFor));
  const total = Number.isFinite(list.total) ? list.total : items.length;
  byId('content-count').textContent = plural(total, 'item', 'items');
  paging.next = list.next_cursor || null;
  byId('previous-page').disabled = paging.page === 0;
  byId('next-page').disabled = !paging.next;
  let empty = '';
  if (items.length === 0) {
    empty = filtering(asked) ? 'Nothing matches this search.' : 'No content yet: upload files above.';
  }
  show(byId('list-message'), empty);
  show(byId('list-error'), '');
}

function renderFailure(error) {
  if (error.status === 401 && !currentToken()) {
    // A private listing without a token is the normal signed-out state.
    byId('content-rows').replaceChildren();
    byId('content-count').textContent = '';
    show(byId('list-message'), 'Sign in to see the content.');
    show(byId('list-error'), '');
  } else {
    // Keep what was listed when the server is merely out of reach.
    if (error.status !== 0) byId('content-rows').replaceChildren();
    show(byId('list-message'), '');
    show(byId('list-error'), describe(error));
  }
  byId('previous-page').disabled = paging.page === 0;
  byId('next-page').disabled = true;
}

/** Lists the current page again; an earlier request still running is dropped. */
export async function loadPage() {
  if (inFlight) inFlight.abort();
  const controller = new AbortController();
  inFlight = controller;
  const asked = filters();
  const params = { ...asked, limit: PAGE_SIZE, cursor: paging.cursors[paging.page] };
  byId('content-rows').setAttribute('aria-busy', 'true');
  try {
    const list = await call('GET', `/content${query(params)}`, { signal: controller.signal });
    // A delete can empty the last page: step back to one that has items.
    if (list.items?.length === 0 && paging.page > 0) {
      paging.page -= 1;
      paging.cursors.length = paging.page + 1;
      inFlight = null;
      return loadPage();
    }
    renderPage(list, asked);
  } catch (error) {
    if (error.name !== 'AbortError') renderFailure(error);
  } finally {
    if (inFlight === controller) {
      inFlight = null;
      byId('content-rows').removeAttribute('aria-busy');
    }
  }
}

function firstPage() {
  paging.cursors = [null];
  paging.page = 0;
  return loadPage();
}

function turnPage(step) {
  if (step > 0) {
    if (!paging.next) return;
    paging.cursors[paging.page + 1] = paging.next;
  } else if (paging.page === 0) {
    return;
  }
  paging.page += step;
  paging.cursors.length = paging.page + 1;
  loadPage();
}

function markSelected(id) {
  selectedId = id;
  for (const row of byId('content-rows').rows) {
    if (row.dataset.id === id) row.setAttribute('aria-current', 'true');
    else row.removeAttribute('aria-current');
  }
}

function wireSearch() {
  const form = byId('search');
  let timer = null;
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    clearTimeout(timer);
    firstPage();
  });
  form.addEventListener('change', () => {
    clearTimeout(timer);
    firstPage();
  });
  form.addEventListener('input', (event) => {
    if (event.target.tagName !== 'INPUT') return;
    clearTimeout(timer);
    timer = setTimeout(firstPage, TYPING_PAUSE_MS);
  });
}

export function initContent() {
  wireSearch();
  byId('previous-page').addEventListener('click', () => turnPage(-1));
  byId('next-page').addEventListener('click', () => turnPage(1));
  on('changed', () => loadPage());
  on('session', () => firstPage());
  on('open', (item) => markSelected(item.id));
  on('closed', () => markSelected(null));
}
