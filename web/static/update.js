/**
 * update(): the one way the search changes, and the effects that follow a change.
 *
 * `update(changes)` computes the new search (state.js `changeSearch`), writes it to the address
 * bar (history.pushState) and runs the effects the change names, in order: loading the facts of
 * the index searched (header and filters) when that index changed, then the search. `restore()`
 * does the same from the URL (page load, back/forward). The answers go into the page state and
 * `render(phase)` draws them.
 */

import { isAbort } from './lib/api.js';
import { groupFields } from './lib/groups.js';
import { base64Of, isSteered, queryParts } from './lib/steering.js';
import {
  hasBaseQuery,
  hasQuery,
  knownIndexes,
  RESERVED,
  requestFilters,
  stateFromUrl,
  urlFromState,
} from './lib/urlstate.js';
import { renderGroupBy, showControls } from './render/controls.js';
import {
  renderFacets,
  renderFacetsUnavailable,
  showCounts,
  showSelected,
} from './render/facets.js';
import { renderInfo, renderInfoUnavailable, showIndexChoice } from './render/header.js';
import {
  changeSearch,
  comparedFrom,
  countsFollowQuery,
  countsUnder,
  facetValuesOf,
  indexNames,
  keepsResults,
  nothingShown,
  offeredFacets,
  searchedIndex,
  searchParams,
  withAnswer,
} from './state.js';

/**
 * @param {object} deps
 * @param {ReturnType<import('./state.js').createPage>} deps.page the state, changed here only
 * @param {import('./elements.js').PageElements} deps.els
 * @param {ReturnType<import('./lib/api.js').createApi>} deps.api
 * @param {ReturnType<import('./render/results.js').createRender>} deps.render
 * @param {{show: (search: import('./lib/urlstate.js').SearchState) => void}} deps.queryChip
 * @param {{useDefaultTemplate: (template: unknown) => void}} deps.detail
 * @param {{pageSize: number, compareSize: number}} deps.sizes results per request, per column
 */
export function createUpdate({ page, els, api, render, queryChip, detail, sizes }) {
  /** @type {Map<string, Promise<number>>} index name -> its near-duplicate threshold */
  const thresholds = new Map();
  /**
   * Change what the user asked for, then bring the controls, the address bar and the results in
   * line with it. Every user action that changes the search goes through here.
   * @param {Partial<import('./lib/urlstate.js').SearchState>} changes
   * @param {{history?: 'push' | 'replace'}} [options] push makes a new history entry (when the
   *   URL or the query image changed); replace rewrites the current one
   */
  function update(changes, { history = 'push' } = {}) {
    const { search, effects } = changeSearch(page.search, changes);
    page.search = search;
    // Any change ends a typing entry; typing marks the entry it makes itself.
    page.typingEntry = false;
    // Only a new query rewrites the box, so a filter change keeps what is being typed.
    if ('q' in changes && els.q.value.trim() !== search.q) els.q.value = search.q;
    writeHistory(history);
    perform(effects);
  }

  /** Load what was asked from the current URL (page load, back/forward). */
  function restore() {
    const isFilter = (field) =>
      page.facetValues ? page.facetValues.has(field) : !RESERVED.has(field);
    const asked = stateFromUrl(window.location.search, isFilter);
    Object.assign(asked, knownIndexes(asked, indexNames(page.indexes)));
    const imageKey = window.history.state?.imageKey;
    const image = imageKey && !hasBaseQuery(asked) ? page.images.get(imageKey) : undefined;
    if (image) asked.image = image;
    const { search, effects } = changeSearch(page.search, asked);
    page.search = search;
    page.typingEntry = false;
    els.q.value = search.q;
    perform(effects);
    // Query images live in memory only, so a reloaded image search has nothing to run.
    if (imageKey && !hasBaseQuery(search)) {
      const note = 'The query image is not kept after a reload; drop or pick it again.';
      showPhase('intro', { note });
    }
  }

  /** @param {import('./state.js').Effect[]} effects */
  function perform(effects) {
    for (const effect of effects) {
      if (effect === 'indexFacts') loadIndexFacts();
      else if (effect === 'facetCounts') loadFacetCounts();
      else showSearch();
    }
  }

  /** @param {'push' | 'replace'} mode */
  function writeHistory(mode) {
    const url = urlFromState(page.search) || window.location.pathname;
    const imageKey = page.search.image ? keyForImage(page.search.image) : null;
    const changed =
      new URL(url, window.location.href).search !== window.location.search ||
      imageKey !== (window.history.state?.imageKey ?? null);
    if (mode === 'push' && changed) window.history.pushState({ imageKey }, '', url);
    else window.history.replaceState({ imageKey }, '', url);
  }

  /** @param {Blob} image */
  function keyForImage(image) {
    for (const [key, stored] of page.images) if (stored === image) return key;
    // Images are never dropped from the map, so its size numbers them.
    const key = `img-${Date.now()}-${page.images.size + 1}`;
    page.images.set(key, image);
    return key;
  }

  /** Show what was asked in the controls and search for it. */
  function showSearch() {
    showControls(els, page.search);
    queryChip.show(page.search);
    const searched = searchedIndex(page.search, indexNames(page.indexes));
    showIndexChoice(els, searched, page.search.compare);
    runSearch();
  }

  /**
   * Draw a phase of the results area; the phases that show no results drop those kept.
   * @param {import('./render/results.js').Phase} phase
   * @param {import('./render/results.js').RenderDetails} [details]
   */
  function showPhase(phase, details = {}) {
    if (!keepsResults(phase, details.append ?? false)) {
      page.shown = nothingShown();
      page.compared = null;
    }
    render(phase, details);
  }

  /**
   * Run the current search.
   * @param {{append?: boolean}} [options] append: fetch the next page ("Load more")
   */
  async function runSearch({ append = false } = {}) {
    page.inFlight.abort();
    const controller = new AbortController();
    page.inFlight = controller;
    const { signal } = controller;
    const asked = page.search;

    if (!hasQuery(asked)) {
      showPhase('intro');
      return;
    }

    const offset = append ? page.shown.nextOffset : 0;
    const compare = asked.compare;
    const k = compare === null ? sizes.pageSize : sizes.compareSize;
    // without the index's threshold (an error), results are shown unfolded
    const dedupe = asked.dedupe ? await duplicateThreshold(asked).catch(() => undefined) : undefined;
    if (page.inFlight !== controller) return;
    const params = searchParams(asked, page.facetValues, { k, offset, dedupe });
    // Under a score cut-off the filter counts depend on the query: the search brings them.
    const withCounts = !append && countsFollowQuery(asked);
    const counted = withCounts ? { ...params, facets: true } : params;
    if (!append) page.queryCounts = null;
    if (withCounts) page.countsInFlight.abort();

    showPhase('loading', { append });
    try {
      if (compare !== null) {
        const names = [searchedIndex(asked, indexNames(page.indexes)) ?? '', compare];
        const answers = await Promise.all(
          names.map((name, i) => searchIn(name, i === 0 ? counted : params, signal)),
        );
        if (page.inFlight !== controller) return;
        if (withCounts) showQueryCounts(answers[0].facets);
        page.shown = nothingShown();
        page.compared = comparedFrom(names, answers);
        showPhase('results');
        return;
      }
      const answer = await searchIn(null, counted, signal);
      if (page.inFlight !== controller) return;
      if (withCounts) showQueryCounts(answer.facets);
      const before = append ? page.shown : nothingShown();
      page.shown = withAnswer(before, answer, { offset, pageSize: sizes.pageSize });
      page.compared = null;
      showPhase('results', { append });
    } catch (error) {
      if (isAbort(error) || page.inFlight !== controller) return;
      if (error.status === 401) showPhase('signin');
      else showPhase('error', { error, append });
    }
  }

  /**
   * Show the filter counts a search brought (those of its query above the score cut-off).
   * @param {unknown} facets the answer's `facets`
   */
  function showQueryCounts(facets) {
    if (!facets || typeof facets !== 'object') return;
    page.queryCounts = /** @type {Record<string, {value: unknown, count: number}[]>} */ (facets);
    showCounts(els.facets, countsUnder(page.offered, page.queryCounts));
  }

  /**
   * Run the query asked in one index (null: the current one). Image ids are per index, so a
   * "similar" query sends the image's own file to any other index.
   * @param {string | null} name
   * @param {{k: number, offset: number, filters?: object, min_score?: number, min_z?: number,
   *   facets?: boolean}} params
   * @param {AbortSignal} signal
   */
  /**
   * The cosine near-duplicates fold within: the searched index's adaptive threshold (asked once
   * per index).
   * @param {import('./lib/urlstate.js').SearchState} asked
   */
  async function duplicateThreshold(asked) {
    const index = searchedIndex(asked, indexNames(page.indexes)) ?? '';
    if (!thresholds.has(index)) {
      const asking = api.duplicateThreshold(index || null).then((t) => Number(t.threshold));
      asking.catch(() => thresholds.delete(index));
      thresholds.set(index, asking);
    }
    return thresholds.get(index);
  }

  async function searchIn(name, params, signal) {
    const asked = page.search;
    const searched = searchedIndex(asked, indexNames(page.indexes));
    const inIndex = name === null ? params : { ...params, index: name };
    // the steering's image ids belong to the index searched: a compared one gets the query alone
    if (isSteered(asked) && (name === null || name === searched)) {
      const imageData = asked.image ? await base64Of(asked.image) : null;
      return api.search({ parts: queryParts(asked, imageData), ...inIndex }, signal);
    }
    if (!hasBaseQuery(asked)) return { results: [], total: 0 }; // steering alone, other index
    if (asked.image) return api.searchImage(asked.image, inIndex, signal);
    if (asked.group !== null) {
      return api.search({ group: asked.group, level: asked.level, ...inIndex }, signal);
    }
    if (asked.similar !== null) {
      if (name === null || name === searched) {
        return api.search({ image_id: asked.similar, ...inIndex }, signal);
      }
      const file = await api.imageFile(asked.similar, searched, signal);
      return api.searchImage(file, inIndex, signal);
    }
    const mode = asked.mode === null ? {} : { mode: asked.mode };
    return api.search({ text: asked.q, ...mode, ...inIndex }, signal);
  }

  /**
   * Show the header and the filters of the index searched (on load, and when another is picked).
   * @returns {Promise<boolean>} false when the service wants its access token first
   */
  async function loadIndexFacts() {
    const index = page.search.index;
    const [info, facets] = await Promise.allSettled([api.info(), api.facets()]);
    if (info.status === 'rejected' && info.reason?.status === 401) return false;
    if (page.search.index !== index) return true; // another index was picked meanwhile
    if (info.status === 'fulfilled') {
      renderInfo(els, info.value);
      detail.useDefaultTemplate(info.value.default_template);
    } else {
      renderInfoUnavailable(els, info.reason?.message ?? 'unknown error');
    }
    const answer = facets.status === 'fulfilled' ? facets.value.facets : null;
    const facts = info.status === 'fulfilled' ? info.value : null;
    renderGroupBy(els, groupFields(facts, answer), page.search.collapse);
    if (answer && typeof answer === 'object') {
      page.offered = offeredFacets(answer);
      page.facetValues = facetValuesOf(page.offered);
      renderFacets(els.facets, page.offered);
      // the counts of a query's cut-off come with its search, which may have answered first
      if (countsFollowQuery(page.search)) {
        if (page.queryCounts) showCounts(els.facets, countsUnder(page.offered, page.queryCounts));
      } else if (page.search.filters.size > 0) loadFacetCounts();
    } else {
      renderFacetsUnavailable(
        els.facets,
        facets.status === 'rejected' ? facets.reason?.message : 'no facets',
      );
    }
    showSelected(els.facets, page.search.filters);
    return true;
  }

  /**
   * Count the filters' values again under the filters chosen (the values offered stay, so a
   * value the other filters leave no image of shows 0 and can still be unticked).
   */
  async function loadFacetCounts() {
    page.countsInFlight.abort();
    const controller = new AbortController();
    page.countsInFlight = controller;
    const filters = requestFilters(page.search.filters, page.facetValues);
    try {
      const answer = await api.facets(filters, controller.signal);
      if (page.countsInFlight !== controller || !answer?.facets) return;
      showCounts(els.facets, countsUnder(page.offered, answer.facets));
    } catch (error) {
      // the counts shown stay; the search itself reports a filter the index refuses
      if (!isAbort(error)) console.warn('facet counts unavailable:', error?.message);
    }
  }

  return { update, restore, runSearch, showPhase, loadIndexFacts };
}
