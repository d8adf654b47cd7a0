/**
 * Small DOM helpers.
 *
 * Every piece of text from the API reaches the page through text nodes or setAttribute, never
 * through innerHTML, so captions, labels and metadata cannot inject markup.
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
 * @returns {string | null}
 */
export function safeUrl(value) {
  if (typeof value !== 'string' || value === '') return null;
  try {
    const url = new URL(value, document.baseURI);
    return ['http:', 'https:', 'blob:'].includes(url.protocol) ? url.href : null;
  } catch {
    return null;
  }
}

/**
 * Text with bare http(s) URLs turned into links (attribution fields often hold a source URL).
 * @param {string} text
 * @returns {Node[]}
 */
export function linkify(text) {
  const nodes = [];
  const pattern = /https?:\/\/[^\s<>"']+/g;
  let last = 0;
  for (const match of text.matchAll(pattern)) {
    // Trailing punctuation usually belongs to the sentence, not the URL.
    const href = match[0].replace(/[.,;:)\]]+$/, '');
    const start = match.index ?? 0;
    nodes.push(document.createTextNode(text.slice(last, start)));
    nodes.push(h('a', { href, target: '_blank', rel: 'noopener noreferrer' }, href));
    last = start + href.length;
  }
  nodes.push(document.createTextNode(text.slice(last)));
  return nodes;
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

/** Returns a function that runs `fn` once `ms` have passed without another call. */
export function debounce(fn, ms) {
  let timer = 0;
  const debounced = (...args) => {
    window.clearTimeout(timer);
    timer = window.setTimeout(() => fn(...args), ms);
  };
  debounced.cancel = () => window.clearTimeout(timer);
  return debounced;
}
