/**
 * The chips under the search box that show how results steer the query: one per image of "More
 * like this" and "Less like this", each with its thumbnail and a button that removes it.
 */

import { withIndex } from '../lib/api.js';
import { h, safeUrl } from '../lib/dom.js';
import { imageOrPlaceholder } from './cards.js';

/** What a chip of each direction says. */
const WORDS = { like: 'More like', unlike: 'Less like' };

/**
 * @param {object} deps
 * @param {string} deps.apiBase
 * @param {(id: number) => void} deps.onRemove called with the image id of a removed chip
 */
export function createSteerChips({ apiBase, onRemove }) {
  const list = /** @type {HTMLElement} */ (document.getElementById('steer-chips'));

  /**
   * Show the chips of a search state (hidden when it is not steered).
   * @param {import('../lib/urlstate.js').SearchState} state
   */
  function show(state) {
    const chips = [];
    for (const direction of /** @type {const} */ (['like', 'unlike'])) {
      for (const id of state[direction]) chips.push(chip(id, direction, state.index));
    }
    list.replaceChildren(...chips);
    list.hidden = chips.length === 0;
  }

  /**
   * @param {number} id
   * @param {'like' | 'unlike'} direction
   * @param {string | null} index
   */
  function chip(id, direction, index) {
    const what = `${WORDS[direction]} image ${id}`;
    const thumbnail = `${apiBase}/images/${encodeURIComponent(id)}/thumbnail`;
    const src = safeUrl(withIndex(thumbnail, index));
    return h(
      'li',
      { class: 'chip steer-chip', dataset: { direction, id: String(id) } },
      src ? imageOrPlaceholder({ src, alt: '', class: 'steer-thumb' }, 'Image') : null,
      h('span', {}, what),
      h(
        'button',
        {
          type: 'button',
          class: 'chip-remove',
          'aria-label': `Remove: ${what.toLowerCase()}`,
          onclick: () => onRemove(id),
        },
        h('span', { 'aria-hidden': 'true' }, '×'),
      ),
    );
  }

  return { show };
}
