// The dashboard's entry point: turns on the parts that need JavaScript,
// routes between the two views by the URL's hash, and starts each module.
//
// Modules, one concern each:
//   api.js        the token and the distributor's API (fetch, XHR uploads)
//   session.js    sign in / sign out
//   upload.js     the upload form taken over: per-file progress, drag and drop
//   content.js    search, the table, the count and paging
//   details.js    one object's details and actions; preview.js its preview
//   cluster.js    nodes, totals, health, cache; placements.js the placements
//   dom.js, format.js  small helpers shared by the others

import { initCluster, showCluster } from './cluster.js';
import { initContent, loadPage } from './content.js';
import { initDetails } from './details.js';
import { byId } from './dom.js';
import { initSession } from './session.js';
import { initUpload } from './upload.js';

const VIEWS = ['content', 'cluster'];
// The cluster view starts polling once a kept token has been checked.
let sessionChecked = false;

/**
 * The page without JavaScript shows only what works without it; with it,
 * the parts for the plain form go (the upload's token field: the signed-in
 * token is used instead) and the parts that need a script come.
 */
function enhance() {
  for (const node of document.querySelectorAll('[data-needs-js]')) node.hidden = false;
  for (const node of document.querySelectorAll('[data-no-js]')) node.remove();
  byId('session').append(byId('session-template').content.cloneNode(true));
}

let shownView = 'content';

/** The view the hash names; another anchor (the skip link's) keeps the view shown. */
function currentView() {
  const name = location.hash.slice(1);
  return VIEWS.includes(name) ? name : shownView;
}

/** Shows the view the hash names; `moveFocus` after a click, not on load. */
function route(moveFocus) {
  const view = currentView();
  const changed = view !== shownView;
  shownView = view;
  for (const name of VIEWS) byId(`${name}-view`).hidden = name !== view;
  for (const link of document.querySelectorAll('nav a')) {
    if (link.getAttribute('href') === `#${view}`) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
  document.title = view === 'cluster' ? 'Cluster · Mini CDN' : 'Mini CDN';
  showCluster(sessionChecked && view === 'cluster');
  if (moveFocus && changed) byId(`${view}-heading`).focus();
}

async function start() {
  enhance();
  initUpload();
  initContent();
  initDetails();
  initCluster();
  window.addEventListener('hashchange', () => route(true));
  route(false);
  await initSession();
  sessionChecked = true;
  route(false);
  loadPage();
}

start().catch((error) => {
  // Whatever went wrong, the page keeps its plain upload form and says why.
  const note = document.createElement('p');
  note.className = 'notice error';
  note.setAttribute('role', 'alert');
  note.textContent = `The dashboard could not start: ${error.message}`;
  document.querySelector('main')?.prepend(note);
});
