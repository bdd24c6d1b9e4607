// Small DOM helpers. Every piece of text goes in through textContent, so
// names and messages from the server can never become markup.

/** The element with this id; a missing one is a bug in index.html. */
export function byId(id) {
  const found = document.getElementById(id);
  if (!found) throw new Error(`index.html has no #${id}`);
  return found;
}

/**
 * Makes an element. `props.text` becomes its textContent, `props.class` its
 * class; every other prop is an attribute (true: present, false/null: absent).
 */
export function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (key === 'text') node.textContent = value;
    else if (key === 'class') node.className = value;
    else if (value === true) node.setAttribute(key, '');
    else if (value !== false && value !== null && value !== undefined) node.setAttribute(key, String(value));
  }
  node.append(...children.filter((child) => child !== null && child !== undefined));
  return node;
}

/** Shows a message in an element that is hidden while it has none. */
export function show(node, message) {
  node.textContent = message || '';
  node.hidden = !message;
}

/** Tells other modules that something happened, without importing them. */
export function emit(name, detail) {
  document.dispatchEvent(new CustomEvent(`cdn:${name}`, { detail }));
}

export function on(name, handler) {
  document.addEventListener(`cdn:${name}`, (event) => handler(event.detail));
}
