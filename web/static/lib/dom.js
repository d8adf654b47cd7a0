/**
 * Small DOM helpers.
 *
 * Every piece of text from the API reaches the page through text nodes or setAttribute, never
 * through innerHTML, so captions, labels and metadata cannot inject markup.
 *
 * safeUrl (given a base), linkParts, fieldLabel, formatBytes and debounce need no document, so
 * Node's test runner checks them (tests/webpage/dom.test.mjs); keep them that way.
 */

/**
 * Create an element.
 * @param {string} tag
 * @param {Record<string, unknown>} [props] attributes; `class`, `dataset`, `onX` listeners
 * @param {...unknown} children nodes or strings (strings become text nodes)
 * @returns {HTMLElement}
 */
export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === null || value === undefined || value === false) continue;
    if (key === 'class') el.className = String(value);
    else if (key === 'dataset') Object.assign(el.dataset, value);
    else if (key.startsWith('on') && typeof value === 'function') {
      el.addEventListener(key.slice(2), /** @type {EventListener} */ (value));
    } else if (value === true) el.setAttribute(key, '');
    else el.setAttribute(key, String(value));
  }
  appendAll(el, children);
  return el;
}

/**
 * Append nodes and strings (as text) to an element, skipping null/undefined/false.
 * @param {Element} el
 * @param {unknown[]} children
 */
export function appendAll(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
}

/** Remove every child of an element. */
export function clear(el) {
  el.replaceChildren();
}

/**
 * A URL safe to put in src/href: same-origin paths or http(s)/blob URLs only.
 * @param {unknown} value
 * @param {string} [base] what relative URLs are relative to (the page's own address)
 * @returns {string | null}
 */
export function safeUrl(value, base = document.baseURI) {
  if (typeof value !== 'string' || value === '') return null;
  try {
    const url = new URL(value, base);
    return ['http:', 'https:', 'blob:'].includes(url.protocol) ? url.href : null;
  } catch {
    return null;
  }
}

/**
 * Text split into plain runs and bare http(s) URLs (attribution fields often hold a source URL).
 * A URL ends at white space, a quote or an angle bracket, and trailing punctuation belongs to
 * the sentence, not the URL.
 * @param {string} text
 * @returns {({text: string} | {href: string})[]} in order; joined back they give `text`
 */
export function linkParts(text) {
  const parts = [];
  const pattern = /https?:\/\/[^\s<>"']+/g;
  let last = 0;
  for (const match of text.matchAll(pattern)) {
    const href = match[0].replace(/[.,;:)\]]+$/, '');
    const start = match.index ?? 0;
    if (start > last) parts.push({ text: text.slice(last, start) });
    parts.push({ href });
    last = start + href.length;
  }
  if (last < text.length) parts.push({ text: text.slice(last) });
  return parts;
}

/**
 * Text with bare http(s) URLs turned into links that open in a new tab.
 * @param {string} text
 * @returns {Node[]}
 */
export function linkify(text) {
  return linkParts(text).map((part) =>
    'href' in part
      ? h('a', { href: part.href, target: '_blank', rel: 'noopener noreferrer' }, part.href)
      : document.createTextNode(part.text),
  );
}

/** Human-readable field name: "body_part" -> "Body part". */
export function fieldLabel(field) {
  const words = String(field).replace(/[_-]+/g, ' ').trim();
  return words.charAt(0).toUpperCase() + words.slice(1);
}

/** Human-readable byte size. */
export function formatBytes(bytes) {
  if (typeof bytes !== 'number' || !Number.isFinite(bytes)) return '';
  const units = ['B', 'KB', 'MB', 'GB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${value.toFixed(unit === 0 ? 0 : 1)} ${units[unit]}`;
}

/**
 * Returns a function that runs `fn`, with the latest arguments, once `ms` have passed without
 * another call; its `cancel()` drops a pending run.
 * @template {unknown[]} A
 * @param {(...args: A) => void} fn
 * @param {number} ms
 */
export function debounce(fn, ms) {
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  let timer;
  const debounced = (/** @type {A} */ ...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), ms);
  };
  debounced.cancel = () => clearTimeout(timer);
  return debounced;
}
