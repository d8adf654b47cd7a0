/**
 * The page's state and the pure steps that change it.
 *
 * One `Page` object holds everything the page keeps between events: what the user asked for
 * (`search`, mirrored by the URL: lib/urlstate.js), the results shown, the served indexes and the
 * filter values of the index searched. The functions here compute new parts of it from the old
 * ones and from the API's answers, and name the effects a change of the search calls for;
 * update.js stores what they compute and runs those effects, and the render modules draw the
 * state. Nothing here touches the document or the network, so Node's test runner checks it
 * (tests/webpage/state.test.mjs).
 */

import { firstFieldsFirst, isFirstField } from './lib/fields.js';
import { emptyState, hasQuery, knownIndexes, requestFilters } from './lib/urlstate.js';

/** A field whose values are all different (file names, ids) is no use as a filter past this. */
const MAX_UNIQUE_FACET_VALUES = 20;

/**
 * The results of the current search shown so far.
 * @typedef {object} Shown
 * @property {any[]} hits in rank order
 * @property {number} total images eligible for the search (grouped: the groups they make)
 * @property {number} nextOffset where "Load more" continues
 * @property {boolean} hasMore
 * @property {boolean} answered true once the search has answered (an empty answer included)
 * @property {number} ms the service's time for the last answer (NaN when it sent none)
 * @property {Record<string, string[]>} suggestions of an empty answer: by field, stored values
 *   that differ from a filter value only in case
 * @property {number} belowCutOff results of the last page a cut-off (minimum score, strong
 *   matches only) removed
 */

/**
 * One column of the compare view: an index's name, its top hits (each naming the index) and the
 * number of images eligible in it.
 * @typedef {{name: string, hits: any[], total: number}} Column
 */

/**
 * The filters one field offers: its values, most frequent first, and whether it is one of the
 * first fields (shown open) or goes under "More filters".
 * @typedef {{field: string, entries: {value: unknown, count: number}[], primary: boolean}} Facet
 */

/**
 * What must follow a change of the search: loading the facts of the index searched (the header
 * and the filters), counting the filters' values again under the filters chosen, and running the
 * search.
 * @typedef {'indexFacts' | 'facetCounts' | 'search'} Effect
 */

/** @returns {Shown} */
export function nothingShown() {
  return {
    hits: [],
    total: 0,
    nextOffset: 0,
    hasMore: false,
    answered: false,
    ms: Number.NaN,
    suggestions: {},
    belowCutOff: 0,
  };
}

/** Everything the page keeps between events, as it is before the service has answered. */
export function createPage() {
  return {
    /** What the user asked for; the URL mirrors it. Written only by update() and restore(). */
    search: emptyState(),
    shown: nothingShown(),
    /** The compare view's two columns (null: no comparison shown). */
    compared: /** @type {Column[] | null} */ (null),
    /** The served indexes from /api/indexes, the default first (empty until known). */
    indexes: /** @type {any[]} */ ([]),
    /** field -> (value as text -> value as the API sent it), from /api/facets. */
    facetValues: /** @type {Map<string, Map<string, unknown>> | null} */ (null),
    /** The fields offered as filters, with their values over every image. */
    offered: /** @type {Facet[]} */ ([]),
    /** The filter counts in flight: aborted when the filters change again. */
    countsInFlight: new AbortController(),
    /** The filter counts the current search brought (under its score cut-off), if any. */
    queryCounts: /** @type {Record<string, {value: unknown, count: number}[]> | null} */ (null),
    /** True while the current history entry was made by typing (later pauses replace it). */
    typingEntry: false,
    /** The search in flight: aborted when a newer one starts, whose answers alone are shown. */
    inFlight: new AbortController(),
    /**
     * Query images by history key. Images cannot go in a URL, so each history entry made for one
     * keeps its key, and back/forward within the session can bring the image back.
     */
    images: /** @type {Map<string, Blob>} */ (new Map()),
  };
}

/**
 * The search after a change, and the effects that follow it in order: the index facts load
 * again when the index searched changed (and count under the filters chosen), the filters'
 * counts when the filters changed or the counts stop following the query, and the search always
 * runs again (bringing the counts itself while they follow the query).
 * @param {import('./lib/urlstate.js').SearchState} search
 * @param {Partial<import('./lib/urlstate.js').SearchState>} changes
 * @returns {{search: import('./lib/urlstate.js').SearchState, effects: Effect[]}}
 */
export function changeSearch(search, changes) {
  const next = { ...search, ...changes };
  /** @type {Effect[]} */
  const effects = ['search'];
  const recount =
    !countsFollowQuery(next) &&
    (countsFollowQuery(search) || !sameFilters(next.filters, search.filters));
  if (next.index !== search.index) effects.unshift('indexFacts');
  else if (recount) effects.unshift('facetCounts');
  return { search: next, effects };
}

/**
 * True when the filter counts depend on the query: under a minimum score, a value counts the
 * images the query scores at least that high, so the search itself brings the counts.
 * @param {import('./lib/urlstate.js').SearchState} search
 */
export function countsFollowQuery(search) {
  return hasQuery(search) && (search.minScore !== null || search.minZ !== null);
}

/**
 * The filters with a suggested value (one differing from a chosen value only in case) in place
 * of the values it stands for; the others of the field stay.
 * @param {Map<string, string[]>} filters not changed
 * @param {string} field
 * @param {string} value
 * @returns {Map<string, string[]>}
 */
export function withSuggestion(filters, field, value) {
  const same = (v) => v.toLowerCase() === value.toLowerCase();
  const kept = (filters.get(field) ?? []).filter((v) => !same(v));
  return new Map(filters).set(field, [...kept, value]);
}

/**
 * True when two filter choices select the same values (in any order).
 * @param {Map<string, string[]>} a field -> selected values
 * @param {Map<string, string[]>} b
 */
export function sameFilters(a, b) {
  if (a.size !== b.size) return false;
  for (const [field, values] of a) {
    const other = b.get(field);
    if (!other || other.length !== values.length) return false;
    if (values.some((value) => !other.includes(value))) return false;
  }
  return true;
}

/**
 * The results a phase keeps: those shown stay, faded, while a new search runs and after a failed
 * "Load more"; the examples, the sign-in form and a failed search show none.
 * @param {import('./render/results.js').Phase} phase
 * @param {boolean} append the phase is about "Load more"
 */
export function keepsResults(phase, append) {
  return phase === 'loading' || phase === 'results' || (phase === 'error' && append);
}

/** The served index names, the default first. */
export function indexNames(indexes) {
  return indexes.map((index) => String(index.name));
}

/**
 * The index searched: the chosen one, else the service's default (null before it is known).
 * @param {Pick<import('./lib/urlstate.js').SearchState, 'index'>} search
 * @param {string[]} names served index names, the default first
 */
export function searchedIndex(search, names) {
  return search.index ?? names[0] ?? null;
}

/**
 * Where "find similar" on an image of `index` searches: in that index, and when it is not the
 * one searched (an image of the compare view), the two indexes swap places.
 * @param {import('./lib/urlstate.js').SearchState} search
 * @param {string[]} names served index names, the default first
 * @param {string | undefined} index the image's index (undefined: the one searched)
 * @returns {Partial<import('./lib/urlstate.js').SearchState>}
 */
export function similarIndexes(search, names, index) {
  const searched = searchedIndex(search, names);
  if (index === undefined || index === searched) return {};
  return knownIndexes({ index, compare: searched }, names);
}

/**
 * The paging, filters, minimum score and grouping of a search request.
 * @param {import('./lib/urlstate.js').SearchState} search
 * @param {Map<string, Map<string, unknown>> | null} facetValues
 * @param {{k: number, offset: number, dedupe?: number}} page results wanted and where they
 *   start, and the cosine near-duplicates fold within when they are hidden
 * @returns {{k: number, offset: number, filters?: object, min_score?: number, min_z?: number,
 *   collapse?: string, dedupe?: number}}
 */
export function searchParams(search, facetValues, { k, offset, dedupe }) {
  /** @type {{k: number, offset: number, filters?: object, min_score?: number, min_z?: number,
   *   collapse?: string, dedupe?: number}} */
  const params = { k, offset };
  const filters = requestFilters(search.filters, facetValues);
  if (filters) params.filters = filters;
  // a keyword ranking has no cosine to cut at; no word ranking has a standing to cut by
  const byWords = Boolean(search.q) && (search.mode === 'keyword' || search.mode === 'hybrid');
  if (search.minScore !== null && !(byWords && search.mode === 'keyword')) {
    params.min_score = search.minScore;
  }
  if (search.minZ !== null && !byWords) params.min_z = search.minZ;
  // a group level already gives one result per group: "Group by" applies to image results
  if (search.collapse !== null && search.group === null) params.collapse = search.collapse;
  // folding near-duplicates is of image results: not with a grouping or a group level
  const images = search.collapse === null && search.group === null;
  if (search.dedupe && images && dedupe !== undefined) params.dedupe = dedupe;
  return params;
}

/**
 * The results shown after an answer: its hits added to `shown` (those already shown are not
 * shown twice), and what "Load more" needs to continue.
 * @param {Shown} shown the results so far (nothingShown() for a new search)
 * @param {any} answer the /api/search response
 * @param {{offset: number, pageSize: number}} paging where the answer starts, results per page
 * @returns {Shown} a new object; `shown` is not changed
 */
export function withAnswer(shown, answer, { offset, pageSize }) {
  const batch = Array.isArray(answer.results) ? answer.results : [];
  const seen = new Set(shown.hits.map((hit) => hit.id));
  const total = Number.isFinite(answer.total) ? answer.total : batch.length;
  const nextOffset = offset + pageSize;
  return {
    hits: [...shown.hits, ...batch.filter((hit) => !seen.has(hit.id))],
    total,
    nextOffset,
    hasMore: batch.length === pageSize && nextOffset < total,
    answered: true,
    ms: Number(answer.timings_ms?.total),
    suggestions:
      answer.suggestions && typeof answer.suggestions === 'object' ? answer.suggestions : {},
    belowCutOff: Number.isInteger(answer.below_cut_off) ? answer.below_cut_off : 0,
  };
}

/**
 * The compare view's columns from one answer per index, each hit marked with its index (its
 * detail and "find similar" then ask that index).
 * @param {string[]} names
 * @param {any[]} answers /api/search responses, in the order of names
 * @returns {Column[]}
 */
export function comparedFrom(names, answers) {
  return names.map((name, i) => {
    const batch = Array.isArray(answers[i].results) ? answers[i].results : [];
    const total = Number.isFinite(answers[i].total) ? answers[i].total : batch.length;
    return { name, hits: batch.map((hit) => ({ ...hit, index: name })), total };
  });
}

/**
 * The fields offered as filters, in the page's order, from the /api/facets answer. Empty values
 * are no filter, and a field past the first ones whose many values all differ is left out.
 * @param {Record<string, {value: unknown, count: number}[]>} facets
 * @returns {Facet[]}
 */
export function offeredFacets(facets) {
  /** @type {Facet[]} */
  const offered = [];
  for (const field of firstFieldsFirst(Object.keys(facets))) {
    const entries = (Array.isArray(facets[field]) ? facets[field] : []).filter(
      (e) => e && e.value !== null && e.value !== undefined && e.value !== '',
    );
    if (entries.length === 0) continue;
    const primary = isFirstField(field);
    const allUnique = entries.every((e) => e.count === 1);
    if (!primary && allUnique && entries.length > MAX_UNIQUE_FACET_VALUES) continue;
    offered.push({ field, entries, primary });
  }
  return offered;
}

/**
 * field -> (value as text -> value as the API sent it) for the offered filters, so a ticked
 * box's text goes back to the API with its own type (a number stays a number).
 * @param {Facet[]} offered
 * @returns {Map<string, Map<string, unknown>>}
 */
export function facetValuesOf(offered) {
  return new Map(
    offered.map(({ field, entries }) => [
      field,
      new Map(entries.map((entry) => [String(entry.value), entry.value])),
    ]),
  );
}

/**
 * The count of every offered value under the filters chosen, from the /api/facets answer for
 * them (each field counted with the other fields' filters applied). A value the answer does not
 * list matches no image under the other filters: 0.
 * @param {Facet[]} offered
 * @param {Record<string, {value: unknown, count: number}[]>} facets
 * @returns {Map<string, Map<string, number>>} field -> (value as text -> count)
 */
export function countsUnder(offered, facets) {
  return new Map(
    offered.map(({ field, entries }) => {
      const answered = new Map(
        (Array.isArray(facets[field]) ? facets[field] : []).map((e) => [String(e.value), e.count]),
      );
      const counts = entries.map((entry) => {
        const value = String(entry.value);
        const count = Number(answered.get(value));
        return /** @type {[string, number]} */ ([value, Number.isFinite(count) ? count : 0]);
      });
      return [field, new Map(counts)];
    }),
  );
}
