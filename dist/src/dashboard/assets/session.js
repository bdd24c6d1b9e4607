// Signing in and out. A token is checked with GET /tokens/current before it
// is kept, so a typo is reported at once instead of on the first upload.

import { call, currentToken, describe, forgetToken, keepToken } from './api.js';
import { byId, emit, show } from './dom.js';

// The signed-in token's `{id, name, scopes}`, or null.
let principal = null;

function render() {
  byId('sign-in').hidden = Boolean(principal);
  byId('signed-in').hidden = !principal;
  if (!principal) return;
  byId('signed-in-as').textContent = `Signed in as ${principal.name}`;
  const scopes = Array.isArray(principal.scopes) ? principal.scopes.join(', ') : '';
  byId('signed-in-scopes').textContent = scopes ? `(${scopes})` : '';
}

async function signIn(event) {
  event.preventDefault();
  const input = byId('access-token');
  const error = byId('sign-in-error');
  const token = input.value.trim();
  if (!token) {
    show(error, 'Paste an access token first.');
    input.focus();
    return;
  }
  const button = event.submitter || byId('sign-in').querySelector('button');
  button.disabled = true;
  try {
    principal = await call('GET', '/tokens/current', { token });
    keepToken(token);
    input.value = '';
    show(error, '');
    render();
    byId('sign-out').focus();
    emit('session', principal);
  } catch (failure) {
    show(error, failure.status === 401 ? `That token was refused: ${failure.message}` : describe(failure));
    input.focus();
  } finally {
    button.disabled = false;
  }
}

function signOut() {
  forgetToken();
  principal = null;
  render();
  byId('access-token').focus();
  emit('session', null);
}

/** Wires the form and checks a token kept from earlier in this tab. */
export async function initSession() {
  // An empty field gets the page's own message, in the form's alert.
  byId('sign-in').noValidate = true;
  byId('sign-in').addEventListener('submit', signIn);
  byId('sign-out').addEventListener('click', signOut);
  if (currentToken()) {
    try {
      principal = await call('GET', '/tokens/current');
    } catch (failure) {
      if (failure.status === 401) {
        forgetToken();
        show(byId('sign-in-error'), `The saved token no longer works: ${failure.message}`);
      } else {
        // The server is unreachable: keep the token and let each view say so.
        principal = { name: 'a saved token (not checked)', scopes: [] };
      }
    }
  }
  render();
}
