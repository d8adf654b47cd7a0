/**
 * render(phase): the results area drawn from the page state, one phase at a time.
 *
 * Every part of the area is set here from the phase and the state (`page.shown`, or the compare
 * view's `page.compared`), so parts of two phases never show together. The result cards are built
 * here too: render keeps the hits whose cards are drawn, and when the hits shown continue those
 * ("Load more") it appends the new cards only, so focus and loaded thumbnails stay. An empty
 * answer shows the filter values it suggests, each a button that puts it in place.
 */

import { fieldLabel, h } from '../lib/dom.js';
import { groupCountText } from '../lib/groups.js';
import { resultCard } from './cards.js';

/**
 * What the results area shows: the examples before any query, a search running, its answer,
 * why it failed, or the sign-in form when the service wants its access token.
 * @typedef {'intro' | 'loading' | 'results' | 'error' | 'signin'} Phase
 */

/**
 * @typedef {object} RenderDetails
 * @property {boolean} [append] the phase is about "Load more" (the results so far stay, and the
 *   first new card takes the focus once shown)
 * @property {any} [error] why the search failed (phase error)
 * @property {string} [note] a line for the status (phase intro)
 */

/**
 * The status line of finished results.
 * @param {{search: import('../lib/urlstate.js').SearchState, shown: import('../state.js').Shown,
 *   compared: import('../state.js').Column[] | null}} page
 * @param {number} compareSize results per index in the compare view
 */
export function resultsStatus({ search, shown, compared }, compareSize) {
  if (compared !== null) {
    const [left, right] = compared;
    return `Comparing ${left.name} and ${right.name}: their top ${compareSize} results`;
  }
  const { hits, total, ms } = shown;
  const timing = Number.isFinite(ms) ? ` · ${Math.round(ms)} ms` : '';
  const strong = search.minZ !== null ? ' strong matches' : '';
  const cut =
    strong + (search.minScore !== null ? ` scoring at least ${search.minScore.toFixed(2)}` : '');
  const of =
    search.collapse !== null
      ? groupCountText(search.collapse, total)
      : `${total} image${total === 1 ? '' : 's'}`;
  return hits.length === 0 ? `No results${timing}` : `Showing ${hits.length}${cut} of ${of}${timing}`;
}

/**
 * The render function of the page's results area.
 * @param {object} deps
 * @param {ReturnType<import('../elements.js').pageElements>} deps.els
 * @param {ReturnType<import('../state.js').createPage>} deps.page the state drawn
 * @param {string} deps.apiBase URL prefix of the API, for thumbnails
 * @param {number} deps.compareSize results per index in the compare view
 * @param {(hit: any, card: HTMLElement) => void} deps.onOpen called when a card is chosen
 * @param {(field: string, value: string) => void} deps.onSuggestion called when a suggested
 *   filter value of an empty answer is chosen
 * @returns {(phase: Phase, details?: RenderDetails) => void}
 */
export function createRender({ els, page, apiBase, compareSize, onOpen, onSuggestion }) {
  /** The hits whose cards are in the results list, in order. */
  let drawnHits = /** @type {any[]} */ ([]);
  /** The compare columns drawn (null: none). */
  let drawnCompared = /** @type {import('../state.js').Column[] | null} */ (null);

  /**
   * Bring the results list in line with the hits shown.
   * @returns {HTMLElement | null} the first card added, if any
   */
  function drawCards() {
    const { hits } = page.shown;
    const continues =
      drawnHits.length <= hits.length && drawnHits.every((hit, i) => hits[i] === hit);
    if (!continues) {
      els.results.replaceChildren();
      drawnHits = [];
    }
    const start = drawnHits.length;
    const items = hits
      .slice(start)
      .map((hit, i) => resultCard(hit, start + i + 1, { apiBase, onOpen }));
    els.results.append(...items);
    drawnHits = [...hits];
    return items[0] ?? null;
  }

  function drawCompared() {
    if (page.compared === drawnCompared) return;
    drawnCompared = page.compared;
    const described = new Map(page.indexes.map((index) => [String(index.name), index]));
    const columns = (page.compared ?? []).map(({ name, hits, total }, i) => {
      const about = described.get(name);
      const list = h('ol', { class: 'grid', 'aria-label': `Results in ${name}` });
      list.append(...hits.map((hit, rank) => resultCard(hit, rank + 1, { apiBase, onOpen })));
      return h(
        'section',
        { class: 'compare-column', 'data-index': name, 'aria-labelledby': `compare-title-${i}` },
        h('h2', { id: `compare-title-${i}` }, name),
        h(
          'p',
          { class: 'muted' },
          about ? `${about.family} · ${about.model} · ${about.dim}-d · ` : '',
          hits.length ? `top ${hits.length} of ${total}` : 'No results',
        ),
        list,
      );
    });
    els.compare.replaceChildren(...columns);
  }

  /**
   * The values an empty answer suggests (differing from a filter value only in case), each a
   * button that puts it in place of that value.
   * @param {Record<string, string[]>} suggestions
   */
  function drawSuggestions(suggestions) {
    const offered = suggestedFilters(suggestions);
    const buttons = offered.map(({ field, value }) => {
      const button = h(
        'button',
        { type: 'button', class: 'chip chip-suggest', dataset: { field, value } },
        suggestionLabel(field, value),
      );
      button.addEventListener('click', () => onSuggestion(field, value));
      return button;
    });
    els.emptySuggestions.replaceChildren(...(buttons.length ? ['Did you mean ', ...buttons] : []));
    els.emptySuggestions.hidden = buttons.length === 0;
  }

  /** @param {any} error an ApiError (or any Error) */
  function renderError(error) {
    const { headline, detail } = errorSentence(page.search.image, error);
    els.error.replaceChildren(
      h('strong', {}, headline),
      ' ',
      h('span', { class: 'error-message' }, detail),
    );
    // the code is for tools; people read the sentence
    els.error.dataset.code = String(error?.code ?? '');
  }

  /**
   * Draw the results area for a phase.
   * @param {Phase} phase
   * @param {RenderDetails} [details]
   */
  function render(phase, { append = false, error = null, note = '' } = {}) {
    const loading = phase === 'loading';
    const { shown } = page;
    const firstNew = drawCards();
    drawCompared();

    els.intro.hidden = phase !== 'intro';
    els.signin.hidden = phase !== 'signin';
    els.error.hidden = phase !== 'error';
    if (phase === 'error') {
      renderError(error);
      // the user may be far down the page (a file dropped under the results)
      els.error.scrollIntoView({ block: 'nearest' });
    }
    const comparing = page.compared !== null;
    els.compare.hidden = !comparing;
    els.compare.classList.toggle('is-stale', loading && comparing);
    els.results.hidden = comparing;
    els.empty.hidden =
      !(phase === 'results' || loading) || !shown.answered || shown.hits.length > 0;
    if (!els.empty.hidden) drawSuggestions(shown.suggestions);
    const removed = shown.belowCutOff;
    els.emptyCut.hidden = els.empty.hidden || removed === 0;
    els.emptyCut.textContent = `${removed} result${removed === 1 ? ' was' : 's were'} below the cut-off`;
    els.loadMore.hidden = !shown.hasMore;
    els.loadMore.disabled = loading;
    els.loadMore.textContent = loading && append ? 'Loading…' : 'Load more';
    els.progress.hidden = !loading;
    els.results.setAttribute('aria-busy', String(loading));
    els.results.classList.toggle('is-stale', loading && !append);
    document.body.classList.toggle('is-loading', loading);

    // While more results load, the status keeps describing those shown.
    if (!(loading && append)) {
      els.status.textContent =
        phase === 'results' ? resultsStatus(page, compareSize) : loading ? 'Searching…' : note;
      // Counts describe finished searches only (tests and tools wait on them).
      if (phase === 'results') {
        const counted = page.compared ? page.compared[0] : shown;
        els.status.dataset.shown = String(counted.hits.length);
        els.status.dataset.total = String(counted.total);
      } else {
        delete els.status.dataset.shown;
        delete els.status.dataset.total;
      }
    }

    // After "Load more", the first new card takes the focus so keyboard users continue there.
    if (phase === 'results' && append) firstNew?.querySelector('button')?.focus();

    if (phase === 'signin') {
      // Signing in sets a session cookie, which also covers the thumbnails' plain <img> requests.
      els.info.textContent = 'Sign in to search';
      els.signinToken.focus();
    }
  }

  return render;
}

/**
 * The suggestions of a /api/search answer as a list of filter values to offer, in the answer's
 * order, without repeats; anything malformed is left out.
 * @param {unknown} suggestions the answer's `suggestions` (field -> values)
 * @returns {{field: string, value: string}[]}
 */
export function suggestedFilters(suggestions) {
  if (!suggestions || typeof suggestions !== 'object') return [];
  /** @type {{field: string, value: string}[]} */
  const offered = [];
  for (const [field, values] of Object.entries(suggestions)) {
    if (!Array.isArray(values)) continue;
    for (const value of new Set(values.filter((v) => typeof v === 'string' && v !== ''))) {
      offered.push({ field, value });
    }
  }
  return offered;
}

/**
 * The text of a suggested filter value's button: the field as the filters name it, and the value.
 * @param {string} field
 * @param {string} value
 */
export function suggestionLabel(field, value) {
  return `${fieldLabel(field)}: ${value}`;
}

/**
 * What the error line says about a failed search: a sentence naming the query file when the
 * query was one, then the service's own words.
 * @param {Blob | null} image the query image (null: not an image search)
 * @param {any} error an ApiError (or any Error)
 * @returns {{headline: string, detail: string}}
 */
export function errorSentence(image, error) {
  const message = String(error?.message ?? error);
  if (!image) return { headline: 'The search failed:', detail: message };
  const name = image instanceof File && image.name ? `“${image.name}”` : 'The pasted image';
  if (error?.code === 'unreadable_image') {
    return {
      headline: `${name} is not an image MedSearch can read.`,
      detail: `Choose a PNG, JPEG or DICOM file (${message}).`,
    };
  }
  const about = image instanceof File && image.name ? ` with ${name}` : '';
  return { headline: `The image search${about} failed:`, detail: message };
}
