// The latest placements: for each new version, which nodes took it and why.
// The rule is "lowest storage % first, then lowest memory, then id", so each
// candidate is shown with those inputs and what became of it.

import { currentToken, describe } from './api.js';
import { byId, el, show } from './dom.js';
import { formatPercent, formatSize, formatTime } from './format.js';

const OUTCOME_ORDER = { chosen: 0, not_needed: 1, no_room: 2, down: 3 };

function outcomeText(candidate) {
  const rank = candidate.rank ?? null;
  switch (candidate.outcome) {
    case 'chosen': return rank === null ? 'chosen' : `chosen (rank ${rank})`;
    case 'not_needed': return rank === null ? 'not needed' : `not needed (rank ${rank})`;
    case 'no_room': return 'no room';
    case 'down': return 'down';
    default: return String(candidate.outcome || '?');
  }
}

/** "node1: 12.3% storage, 40.0 MiB memory, 1.2 GiB free: chosen (rank 1)". */
function candidateText(candidate) {
  const known = (value) => value !== null && value !== undefined;
  const inputs = [];
  if (known(candidate.storagep)) inputs.push(`${formatPercent(candidate.storagep)} storage`);
  if (known(candidate.memory)) inputs.push(`${formatSize(candidate.memory)} memory`);
  if (known(candidate.free)) inputs.push(`${formatSize(candidate.free)} free`);
  const figures = inputs.length ? ` ${inputs.join(', ')}` : '';
  return `${candidate.node}:${figures}: ${outcomeText(candidate)}`;
}

/** Chosen nodes first, in rank order; then the rest by why they were passed over. */
function byOutcome(a, b) {
  const order = (OUTCOME_ORDER[a.outcome] ?? 9) - (OUTCOME_ORDER[b.outcome] ?? 9);
  if (order !== 0) return order;
  return (a.rank ?? Infinity) - (b.rank ?? Infinity) || String(a.node).localeCompare(String(b.node));
}

function placementRow(placement) {
  const chosen = Array.isArray(placement.chosen) ? placement.chosen : [];
  const candidates = Array.isArray(placement.candidates)
    ? [...placement.candidates].sort(byOutcome)
    : [];
  const short = chosen.length < (placement.copies ?? 0);
  return el('tr', {},
    el('td', { 'data-label': 'When' },
      el('time', { datetime: placement.at, title: placement.at, text: formatTime(placement.at) })),
    // One child per cell, so that a narrow screen's stacked cells stay one line.
    el('td', { 'data-label': 'Name' }, el('span', {},
      el('span', { class: 'break', text: placement.filename }),
      el('span', { class: 'muted small', text: ` v${placement.version} · ${formatSize(placement.size)}` }))),
    el('td', { 'data-label': 'Chosen' }, el('span', {},
      el('span', { class: 'mono', text: chosen.length ? chosen.join(', ') : 'none' }),
      short
        ? el('span', { class: 'warn small', text: ` only ${chosen.length} of ${placement.copies} copies` })
        : null)),
    el('td', { class: 'why', 'data-label': 'Why' },
      el('ul', { class: 'candidates' }, ...candidates.map((candidate) => el('li', {
        class: `outcome-${candidate.outcome}`,
        text: candidateText(candidate),
      })))));
}

export function renderPlacements(answer) {
  const placements = Array.isArray(answer.placements) ? answer.placements : [];
  byId('placement-rows').replaceChildren(...placements.map(placementRow));
  show(byId('placements-message'), placements.length ? '' : 'No uploads yet.');
}

export function renderPlacementsFailure(error) {
  // Rows already shown stay while the server is merely out of reach.
  if (!error || error.status !== 0) byId('placement-rows').replaceChildren();
  const signedOut = error && error.status === 401 && !currentToken();
  show(byId('placements-message'), signedOut
    ? 'Sign in to see the latest placements.'
    : `Could not load the placements: ${describe(error)}`);
}
