// The cluster view: a card per node, totals, replication health, the cache
// and the latest placements. It polls while it is on screen, one round after
// the other, so a slow server never has two rounds waiting on it.

import { call, describe } from './api.js';
import { byId, el, on, show } from './dom.js';
import { ago, clock, formatPercent, formatSize } from './format.js';
import { renderPlacements, renderPlacementsFailure } from './placements.js';

const POLL_MS = 2000;
// A round that takes longer than this is reported and the next one starts.
const ROUND_TIMEOUT_MS = 5000;

const poller = { wanted: false, round: 0, timer: null };

/** A storage bar with the "X of Y" text beside it. */
function storageBar(label, used, max) {
  const top = Math.max(Number(max) || 0, 1);
  const text = `${formatSize(used)} of ${formatSize(max)}`;
  const meter = el('meter', {
    'aria-label': label,
    'aria-valuetext': text,
    min: 0,
    max: top,
    value: Math.min(Number(used) || 0, top),
    low: top * 0.75,
    high: top * 0.9,
    optimum: 0,
  });
  return el('div', { class: 'meter-row' },
    el('span', { class: 'meter-name', text: 'Storage' }), meter,
    el('p', { class: 'meter-caption' },
      el('span', { class: 'meter-text', text }), ' ',
      el('span', { class: 'muted', text: `· ${formatPercent((Number(used) / top) * 100)}` })));
}

/** `<dt>`/`<dd>` pairs; a tone ('ok', 'warn') colours the figure. */
function terms(pairs) {
  return pairs.flatMap(([term, value, tone]) => [
    el('dt', { text: term }),
    el('dd', { class: tone || null, text: String(value) }),
  ]);
}

const figures = (pairs) => el('dl', { class: 'figures' }, ...terms(pairs));

function nodeCard(node, now) {
  const status = node.status === 'up' ? 'up' : 'down';
  const stats = node.stats;
  return el('article', { 'aria-label': `Node ${node.id}`, class: `card node ${status}` },
    el('div', { class: 'node-head' },
      el('h3', { text: node.id }),
      el('span', { class: `node-status ${status}`, text: status })),
    el('p', { class: 'muted', text: `last seen ${ago(node.last_seen, now)}` }),
    node.last_error ? el('p', { class: 'node-error', text: `last error: ${node.last_error}` }) : null,
    stats
      ? storageBar(`Storage of ${node.id}`, stats.storage, stats.max_storage)
      : el('p', { class: 'muted', text: 'No figures from this node yet.' }),
    stats
      ? figures([
        ['Memory', `${formatSize(stats.memory)} of ${formatSize(stats.memory_total)}`],
        ['Objects', stats.objects],
      ])
      : null,
    node.public_url ? el('p', { class: 'muted mono break', text: node.public_url }) : null);
}

function renderNodes(list) {
  const nodes = Array.isArray(list.nodes) ? list.nodes : [];
  const now = new Date();
  const cards = nodes.map((node) => nodeCard(node, now));
  if (cards.length === 0) cards.push(el('p', { class: 'muted', text: 'No storage nodes are configured.' }));
  byId('node-cards').replaceChildren(...cards);
  return nodes;
}

function renderTotals(stats, nodes) {
  const totals = stats.totals || {};
  const up = nodes.filter((node) => node.status === 'up').length;
  byId('totals').replaceChildren(
    storageBar('Storage of the cluster', totals.storage, totals.max_storage),
    figures([
      ['Nodes up', `${up} of ${nodes.length}`, up < nodes.length ? 'warn' : null],
      ['Objects', totals.objects ?? '?'],
    ]));
}

function renderRepair(repair = {}) {
  const value = (key) => repair[key] ?? 0;
  byId('repair').replaceChildren(...terms([
    ['Under-replicated objects', value('under_replicated'), value('under_replicated') > 0 ? 'warn' : 'ok'],
    ['Copies repaired', value('repaired')],
    ['Repairs failed', value('failed'), value('failed') > 0 ? 'warn' : null],
    ['Lost or corrupt copies found', value('lost_copies')],
    ['Orphan blobs removed', value('orphans')],
    ['Surplus copies removed', value('surplus_removed')],
  ]));
}

const words = (key) => key.replace(/_/g, ' ').replace(/^./, (first) => first.toUpperCase());

/** The cache figures, shown once `/stats` has them. */
function renderCache(cache) {
  const card = byId('cache-card');
  card.hidden = !cache || typeof cache !== 'object';
  if (card.hidden) return;
  const pairs = [];
  if (cache.hit_ratio !== undefined) {
    const ratio = Number(cache.hit_ratio);
    pairs.push(['Hit ratio', formatPercent(ratio <= 1 ? ratio * 100 : ratio)]);
  }
  for (const [key, value] of Object.entries(cache)) {
    if (key === 'hit_ratio' || typeof value === 'object') continue;
    pairs.push([words(key), /bytes/.test(key) ? formatSize(value) : value]);
  }
  byId('cache').replaceChildren(...terms(pairs));
}

/** Fetches everything at once; each part shows what it got. */
async function round() {
  const options = { signal: AbortSignal.timeout(ROUND_TIMEOUT_MS) };
  const [nodes, stats, placements] = await Promise.allSettled([
    call('GET', '/nodes', options),
    call('GET', '/stats', options),
    call('GET', '/placements', options),
  ]);
  let nodeList = [];
  if (nodes.status === 'fulfilled') nodeList = renderNodes(nodes.value);
  if (stats.status === 'fulfilled') {
    renderTotals(stats.value, nodeList);
    renderRepair(stats.value.repair);
    renderCache(stats.value.cache);
  }
  if (placements.status === 'fulfilled') renderPlacements(placements.value);
  else renderPlacementsFailure(placements.reason);
  const failure = [nodes, stats].find((result) => result.status === 'rejected');
  show(byId('cluster-error'), failure ? `Could not refresh the cluster: ${describe(failure.reason)}` : '');
  if (!failure) byId('cluster-updated').textContent = `Updated ${clock()}`;
}

async function poll(mine) {
  try {
    await round();
  } catch (error) {
    show(byId('cluster-error'), describe(error));
  }
  if (poller.wanted && mine === poller.round) poller.timer = setTimeout(() => poll(mine), POLL_MS);
}

/** Starts a fresh polling loop, ending the one before. */
function restart() {
  clearTimeout(poller.timer);
  poller.round += 1;
  if (poller.wanted && document.visibilityState !== 'hidden') poll(poller.round);
}

/** Polls while the view is shown and the tab is visible. */
export function showCluster(shown) {
  poller.wanted = shown;
  restart();
}

export function initCluster() {
  document.addEventListener('visibilitychange', restart);
  on('session', restart);
}
