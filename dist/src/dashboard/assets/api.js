// The distributor's public API, as the dashboard uses it. The token lives in
// sessionStorage only (never a cookie), so it goes with the tab and is sent
// by this code alone, as a bearer header.

const TOKEN_KEY = 'cdn-token';
const NOT_SIGNED_IN = 'Not signed in: sign in with an access token first.';

function storedToken() {
  try {
    return sessionStorage.getItem(TOKEN_KEY);
  } catch {
    return null; // Storage can be switched off; the page then works signed out.
  }
}

// The token in use; kept apart from storage so a page whose storage is off
// can still sign in until it is reloaded.
let memoryToken = storedToken();

export function currentToken() {
  return memoryToken;
}

export function keepToken(token) {
  try {
    sessionStorage.setItem(TOKEN_KEY, token);
  } catch {
    // Without storage the sign-in lasts until the page is reloaded.
  }
  memoryToken = token;
}

export function forgetToken() {
  try {
    sessionStorage.removeItem(TOKEN_KEY);
  } catch {
    // Nothing was kept.
  }
  memoryToken = null;
}

/** A refused or failed call, carrying the server's own message. */
class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/** What to tell the user about a failed call. */
export function describe(error) {
  if (error instanceof ApiError && error.status === 401 && !currentToken()) return NOT_SIGNED_IN;
  return error && error.message ? error.message : String(error);
}

function notSignedIn() {
  return new ApiError(401, 'unauthorized', NOT_SIGNED_IN);
}

function authHeaders(token = currentToken()) {
  return token ? { Authorization: `Bearer ${token}` } : {};
}

/** Turns an error answer into an ApiError with the `{"error":{…}}` message. */
function errorFrom(status, statusText, bodyText) {
  try {
    const { error } = JSON.parse(bodyText);
    if (error && error.message) return new ApiError(status, error.code, error.message);
  } catch {
    // Not our JSON (a proxy's page, say): fall back to the status line.
  }
  return new ApiError(status, 'http', `The server answered ${status} ${statusText}`.trim());
}

/**
 * Sends a request with the bearer header and returns the Response when it
 * succeeded; otherwise throws an ApiError with the server's message. `token`
 * overrides the kept one (to try a token before keeping it).
 */
export async function request(method, path, { json, token, signal, headers = {} } = {}) {
  const init = { method, signal, headers: { ...authHeaders(token), ...headers } };
  if (json !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(json);
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch (error) {
    if (error.name === 'AbortError') throw error;
    throw new ApiError(0, 'network', 'Could not reach the distributor. Check the connection and try again.');
  }
  if (!response.ok) throw errorFrom(response.status, response.statusText, await response.text());
  return response;
}

/** Calls the API and returns the parsed JSON answer (null for 204). */
export async function call(method, path, options) {
  const response = await request(method, path, options);
  return response.status === 204 ? null : response.json();
}

/** Builds a query string from the values that are set. */
export function query(params) {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value !== '' && value !== null && value !== undefined) search.set(key, value);
  }
  const text = search.toString();
  return text ? `?${text}` : '';
}

export const contentPath = (id) => `/content/${encodeURIComponent(id)}`;

/**
 * Sends one file as the raw body of POST /content or PUT /content/{id}.
 * XMLHttpRequest, because fetch reports no upload progress.
 * Returns a promise of the stored Content.
 */
export function sendFile({ method, path, file, visibility, onProgress }) {
  return new Promise((resolve, reject) => {
    const token = currentToken();
    if (!token) {
      reject(notSignedIn());
      return;
    }
    const request = new XMLHttpRequest();
    request.open(method, path);
    request.setRequestHeader('Authorization', `Bearer ${token}`);
    request.setRequestHeader('X-Filename', encodeURIComponent(file.name));
    if (visibility) request.setRequestHeader('X-Visibility', visibility);
    // The browser sends the file's own type; an unknown type goes without one
    // so that the server guesses it from the name.
    request.upload.addEventListener('progress', (event) => {
      if (onProgress) onProgress(event.loaded, event.lengthComputable ? event.total : file.size);
    });
    request.addEventListener('load', () => {
      if (request.status >= 200 && request.status < 300) {
        try {
          resolve(JSON.parse(request.responseText));
        } catch {
          reject(new ApiError(request.status, 'http', 'The server sent an answer the page cannot read.'));
        }
      } else {
        reject(errorFrom(request.status, request.statusText, request.responseText));
      }
    });
    request.addEventListener('error', () => {
      reject(new ApiError(0, 'network', 'The upload was cut off: the distributor could not be reached.'));
    });
    request.addEventListener('abort', () => reject(new ApiError(0, 'aborted', 'The upload was cancelled.')));
    request.send(file);
  });
}

/**
 * A presigned link to an object's bytes. `url` is what the server gave (to
 * hand to others); `local` is the same link on this page's origin, for
 * previews, which the page's CSP only allows from 'self'.
 */
export async function share(id, expiresIn) {
  const link = await call('POST', `${contentPath(id)}/share`, { json: { expires_in: expiresIn } });
  const parsed = new URL(link.url, location.href);
  return { ...link, local: parsed.pathname + parsed.search };
}
