/**
 * "More like this" and "Less like this": steering a query by the results it found.
 *
 * The search state keeps the ids to find more like (`like`) and less like (`unlike`) beside its
 * query (text, similar id or query image; `like` alone is a query too). The search then sends
 * weighted `parts` to POST /api/search: the query itself and each liked image weighing +1, each
 * unliked image -1; the service ranks by the normalised weighted sum of their vectors and leaves
 * the named images out. Nothing here touches the document or the network (Node's test runner
 * checks it: tests/webpage/steering.test.mjs).
 */

/** A part's weight for each direction. */
const WEIGHTS = { like: 1, unlike: -1 };

/**
 * True when the search is steered by results.
 * @param {Pick<import('./urlstate.js').SearchState, 'like' | 'unlike'>} search
 */
export function isSteered(search) {
  return search.like.length > 0 || search.unlike.length > 0;
}

/**
 * The changes that steer a search more (`like`) or less (`unlike`) toward an image; an image is
 * in one list at most, so choosing the other direction moves it. A "similar group" query cannot
 * be steered by images: it gives way to the steering alone.
 * @param {import('./urlstate.js').SearchState} search not changed
 * @param {number} id
 * @param {'like' | 'unlike'} direction
 * @returns {Partial<import('./urlstate.js').SearchState>}
 */
export function steered(search, id, direction) {
  const other = direction === 'like' ? 'unlike' : 'like';
  const kept = search[direction].filter((known) => known !== id);
  /** @type {Partial<import('./urlstate.js').SearchState>} */
  const changes = {
    [direction]: [...kept, id],
    [other]: search[other].filter((known) => known !== id),
  };
  if (search.group !== null) Object.assign(changes, { group: null, level: null });
  return changes;
}

/**
 * The changes that take an image out of the steering (the chip's remove button).
 * @param {Pick<import('./urlstate.js').SearchState, 'like' | 'unlike'>} search not changed
 * @param {number} id
 * @returns {Pick<import('./urlstate.js').SearchState, 'like' | 'unlike'>}
 */
export function withoutSteer(search, id) {
  return {
    like: search.like.filter((known) => known !== id),
    unlike: search.unlike.filter((known) => known !== id),
  };
}

/**
 * The weighted parts of a steered search, its own query first.
 * @param {import('./urlstate.js').SearchState} search
 * @param {string | null} imageData the query image as base64 (null: the search has none)
 * @returns {{text?: string, image?: string, image_id?: number, weight: number}[]}
 */
export function queryParts(search, imageData) {
  const parts = [];
  if (search.q) parts.push({ text: search.q, weight: 1 });
  else if (search.similar !== null) parts.push({ image_id: search.similar, weight: 1 });
  else if (imageData !== null) parts.push({ image: imageData, weight: 1 });
  for (const direction of /** @type {const} */ (['like', 'unlike'])) {
    for (const id of search[direction]) parts.push({ image_id: id, weight: WEIGHTS[direction] });
  }
  return parts;
}

/**
 * A file's bytes as base64, for a query image sent as a part of a JSON body.
 * @param {Blob} blob
 * @returns {Promise<string>}
 */
export async function base64Of(blob) {
  const bytes = new Uint8Array(await blob.arrayBuffer());
  let binary = '';
  const chunk = 0x8000; // String.fromCharCode takes a limited number of arguments
  for (let start = 0; start < bytes.length; start += chunk) {
    binary += String.fromCharCode(...bytes.subarray(start, start + chunk));
  }
  return btoa(binary);
}
