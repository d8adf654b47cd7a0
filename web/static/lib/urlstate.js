/**
 * The search state, its place in the address bar, and the pure steps that change it.
 *
 * URLs look like `?q=chest+x-ray&modality=CT&modality=MR&min_score=0.2` or `?similar=12`:
 * every parameter that is not a reserved one names a metadata field to filter on, and a repeated
 * field is an any-of list. `index=NAME` picks one of the served indexes (the first without it)
 * and `compare=NAME` shows a second index's results next to it. `collapse=FIELD` shows one
 * result per value of a metadata field (the "Group by" picker); `?level=series&group=KEY` asks
 * for the series (studies) most similar to one. A query image cannot live in a URL; it is kept in
 * memory per history entry instead (see update.js). `like=12&unlike=40` (each repeatable) steers the
 * query: more like image 12, less like image 40 (lib/steering.js), with `q`, `similar` or a query
 * image, or `like` alone.
 */

export const RESERVED = new Set([
  'q',
  'similar',
  'min_score',
  'min_z',
  'index',
  'compare',
  'collapse',
  'level',
  'group',
  'mode',
  'dedupe',
  'like',
  'unlike',
]);
/** How a text query can rank besides by meaning (the API's `mode`; dense is the default). */
export const TEXT_MODES = ['keyword', 'hybrid'];
/** The levels a "similar series/studies" query searches at. */
export const GROUP_LEVELS = ['series', 'study'];
/**
 * The z "Strong matches only" asks for: a score two standard deviations above the mean of the
 * top scores that unrelated queries get on the index.
 */
export const STRONG_MATCH_Z = 2;

/**
 * @typedef {object} SearchState
 * @property {string} q text query ('' when none)
 * @property {number | null} similar image id for "find similar"
 * @property {Blob | null} image query image
 * @property {Map<string, string[]>} filters field -> selected values (as strings)
 * @property {number | null} minScore
 * @property {number | null} minZ results whose z against the index's null distribution is
 *   below it are left out ("Strong matches only" sets STRONG_MATCH_Z)
 * @property {string | null} index served index searched (null: the service's default)
 * @property {string | null} compare second index shown next to it (null: no comparison)
 * @property {string | null} collapse field results are grouped by (null: one result per image)
 * @property {string | null} group a series or study key: the groups most similar to it
 * @property {string | null} level the level of `group`: series or study
 * @property {string | null} mode how a text query ranks: keyword or hybrid (null: dense)
 * @property {boolean} dedupe near-duplicates folded into the result they copy (`dedupe=1`)
 * @property {number[]} like image ids the results should be more like
 * @property {number[]} unlike image ids the results should be less like
 */

/** @returns {SearchState} */
export function emptyState() {
  return {
    q: '',
    similar: null,
    image: null,
    filters: new Map(),
    minScore: null,
    minZ: null,
    index: null,
    compare: null,
    collapse: null,
    group: null,
    level: null,
    mode: null,
    dedupe: false,
    like: [],
    unlike: [],
  };
}

/**
 * Read the state from a query string.
 * @param {string} search location.search
 * @param {(field: string) => boolean} isFilterField which parameters are filter fields
 * @returns {SearchState}
 */
export function stateFromUrl(search, isFilterField) {
  const params = new URLSearchParams(search);
  const state = emptyState();
  state.q = (params.get('q') ?? '').trim();
  const similar = Number.parseInt(params.get('similar') ?? '', 10);
  if (!state.q && Number.isInteger(similar) && similar >= 0) state.similar = similar;
  const group = params.get('group');
  const level = params.get('level') ?? '';
  if (!state.q && state.similar === null && group && GROUP_LEVELS.includes(level)) {
    Object.assign(state, { group, level });
  }
  const minScore = Number.parseFloat(params.get('min_score') ?? '');
  if (Number.isFinite(minScore) && minScore > 0 && minScore <= 1) state.minScore = minScore;
  const minZ = Number.parseFloat(params.get('min_z') ?? '');
  if (Number.isFinite(minZ)) state.minZ = minZ;
  state.index = params.get('index') || null;
  state.compare = params.get('compare') || null;
  state.collapse = params.get('collapse') || null;
  const mode = params.get('mode') ?? '';
  if (TEXT_MODES.includes(mode)) state.mode = mode;
  state.dedupe = params.get('dedupe') === '1';
  if (state.group === null) {
    state.like = imageIds(params.getAll('like'));
    state.unlike = imageIds(params.getAll('unlike')).filter((id) => !state.like.includes(id));
  }
  for (const [key, value] of params) {
    if (RESERVED.has(key) || !isFilterField(key)) continue;
    const values = state.filters.get(key) ?? [];
    if (!values.includes(value)) values.push(value);
    state.filters.set(key, values);
  }
  return state;
}

/**
 * The query string for a state ('' when there is nothing to keep).
 * @param {SearchState} state
 */
export function urlFromState(state) {
  const params = new URLSearchParams();
  if (state.q) params.set('q', state.q);
  else if (state.similar !== null) params.set('similar', String(state.similar));
  else if (state.group !== null && state.level !== null) {
    params.set('level', state.level);
    params.set('group', state.group);
  }
  for (const [field, values] of state.filters) {
    for (const value of values) params.append(field, value);
  }
  if (state.minScore !== null) params.set('min_score', String(state.minScore));
  if (state.minZ !== null) params.set('min_z', String(state.minZ));
  if (state.index !== null) params.set('index', state.index);
  if (state.compare !== null) params.set('compare', state.compare);
  if (state.collapse !== null) params.set('collapse', state.collapse);
  if (state.mode !== null) params.set('mode', state.mode);
  if (state.dedupe) params.set('dedupe', '1');
  for (const id of state.like) params.append('like', String(id));
  for (const id of state.unlike) params.append('unlike', String(id));
  const text = params.toString();
  return text ? `?${text}` : '';
}

/** True when the state holds something to search for. */
export function hasQuery(state) {
  return hasBaseQuery(state) || state.like.length > 0;
}

/** True when the state holds a query of its own kind (text, similar id, image, group), steered
 * or not. */
export function hasBaseQuery(state) {
  const other = state.similar !== null || state.image !== null || state.group !== null;
  return Boolean(state.q) || other;
}

/**
 * The distinct image ids among URL values (others are ignored), in order.
 * @param {string[]} values
 */
function imageIds(values) {
  const ids = values.filter((v) => /^\d{1,15}$/.test(v.trim())).map((v) => Number(v));
  return ids.filter((id, i) => ids.indexOf(id) === i);
}

/**
 * The state changes that make a new query of one kind (text, similar id, query image or similar
 * group) and drop the other kinds and any steering; filters and minimum score are not part of
 * it, so they stay.
 * @param {{q?: string, similar?: number | null, image?: Blob | null, group?: string | null,
 *   level?: string | null}} [query]
 * @returns {Pick<SearchState, 'q' | 'similar' | 'image' | 'group' | 'level' | 'like' | 'unlike'>}
 */
export function newQuery(query = {}) {
  const { q = '', similar = null, image = null, group = null, level = null } = query;
  return { q, similar, image, group, level, like: [], unlike: [] };
}

/**
 * Filters with one value of one field selected or unselected; a field left with no value goes.
 * Selecting keeps the order of selection, so the URL lists values in the order they were picked.
 * @param {Map<string, string[]>} filters not changed
 * @param {string} field
 * @param {string} value
 * @param {boolean} selected
 * @returns {Map<string, string[]>}
 */
export function withFilter(filters, field, value, selected) {
  const next = new Map(filters);
  const values = (next.get(field) ?? []).filter((v) => v !== value);
  if (selected) values.push(value);
  if (values.length) next.set(field, values);
  else next.delete(field);
  return next;
}

/**
 * The filters as the search API takes them: one value alone, several as an any-of list, each
 * with the type the facets gave it (a number stays a number) when the facets know it.
 * @param {Map<string, string[]>} filters
 * @param {Map<string, Map<string, unknown>> | null} facetValues field -> (text -> API value)
 * @returns {Record<string, unknown> | undefined} undefined when nothing is filtered
 */
export function requestFilters(filters, facetValues) {
  if (filters.size === 0) return undefined;
  /** @type {Record<string, unknown>} */
  const request = {};
  for (const [field, values] of filters) {
    const known = facetValues?.get(field);
    const typed = values.map((v) => (known && known.has(v) ? known.get(v) : v));
    request[field] = typed.length === 1 ? typed[0] : typed;
  }
  return request;
}

/**
 * The index choice made consistent with the indexes the service serves (first = default):
 * an unknown index becomes the default (null), the default is written as null so its URL stays
 * plain, and a comparison needs a second, known index other than the one searched.
 * @param {Pick<SearchState, 'index' | 'compare'>} choice
 * @param {string[]} names served index names, the default first
 * @returns {Pick<SearchState, 'index' | 'compare'>}
 */
export function knownIndexes({ index, compare }, names) {
  const chosen = index !== null && names.includes(index) && index !== names[0] ? index : null;
  const searched = chosen ?? names[0] ?? null;
  const other = compare !== null && names.includes(compare) && compare !== searched;
  return { index: chosen, compare: other ? compare : null };
}
