/**
 * MedSearch search page.
 *
 * The page's state lives in `page` below. What the user asked for (`page.search`: text query,
 * "similar to" id or query image, filters, minimum score) changes only through `update()`, which
 * writes it to the URL (history.pushState) and searches; the URL is read back on load and on
 * back/forward. The results area shows one phase at a time, drawn by `render(phase)`. When the
 * service serves several indexes, a picker chooses the one searched and a compare view shows a
 * second index's top results next to it (both in the URL: `index=`, `compare=`).
 */

import { createApi, isAbort } from './api.js';
import { resultCard } from './cards.js';
import { createDetail } from './detail.js';
import { clear, debounce, h } from './dom.js';
import { renderFacets, showSelected } from './facets.js';
import { createQueryChip } from './querychip.js';
import {
  emptyState,
  hasQuery,
  knownIndexes,
  newQuery,
  RESERVED,
  requestFilters,
  stateFromUrl,
  urlFromState,
  withFilter,
} from './urlstate.js';

/** Results per request; 24 fills whole rows of 2, 3, 4 or 6 columns. */
const PAGE_SIZE = 24;
/** Results per index in the compare view. */
const COMPARE_SIZE = 12;
const TYPING_DELAY_MS = 350;
const MIN_SCORE_DELAY_MS = 250;
const EXAMPLES = [
  'chest X-ray with pleural effusion',
  'ground-glass opacities in both lungs',
  'axial CT of the abdomen',
  'MRI of the brain',
  'retinal fundus photograph',
  'histopathology slide with brown stain',
];

const $ = (id) => /** @type {HTMLElement} */ (document.getElementById(id));
const apiBase = document.body.dataset.apiBase || '/api';
const api = createApi(apiBase, { currentIndex: () => page.search.index });

const els = {
  form: /** @type {HTMLFormElement} */ ($('search-form')),
  q: /** @type {HTMLInputElement} */ ($('q')),
  imageButton: $('image-button'),
  fileInput: /** @type {HTMLInputElement} */ ($('file-input')),
  chipClear: $('query-chip-clear'),
  info: $('service-info'),
  badge: $('random-weights-badge'),
  filters: $('filters'),
  filtersToggle: $('filters-toggle'),
  facets: $('facets'),
  clearFilters: /** @type {HTMLButtonElement} */ ($('clear-filters')),
  minScore: /** @type {HTMLInputElement} */ ($('min-score')),
  minScoreValue: /** @type {HTMLOutputElement} */ ($('min-score-value')),
  progress: $('progress'),
  status: $('status'),
  error: $('error'),
  intro: $('intro'),
  examples: $('examples'),
  empty: $('empty'),
  results: $('results'),
  compare: $('compare'),
  indexRow: $('index-row'),
  indexPicker: /** @type {HTMLSelectElement} */ ($('index-picker')),
  comparePicker: /** @type {HTMLSelectElement} */ ($('compare-picker')),
  loadMore: /** @type {HTMLButtonElement} */ ($('load-more')),
  dropOverlay: $('drop-overlay'),
  signin: /** @type {HTMLFormElement} */ ($('signin-form')),
  signinToken: /** @type {HTMLInputElement} */ ($('signin-token')),
  signinError: $('signin-error'),
};

/**
 * What the results area shows: the examples before any query, a search running, its answer,
 * why it failed, or the sign-in form when the service wants its access token.
 * @typedef {'intro' | 'loading' | 'results' | 'error' | 'signin'} Phase
 */

/**
 * The results of the current search shown so far.
 * @typedef {object} Shown
 * @property {any[]} hits in rank order
 * @property {number} total images eligible for the search
 * @property {number} nextOffset where "Load more" continues
 * @property {boolean} hasMore
 * @property {boolean} answered true once the search has answered (an empty answer included)
 * @property {number} ms the service's time for the last answer (NaN when it sent none)
 */

/** @returns {Shown} */
function nothingShown() {
  return { hits: [], total: 0, nextOffset: 0, hasMore: false, answered: false, ms: Number.NaN };
}

/** Everything the page keeps between events. */
const page = {
  /** What the user asked for; the URL mirrors it. Written only by update() and restore(). */
  search: emptyState(),
  shown: nothingShown(),
  /** The served indexes from /api/indexes, the default first (empty until known). */
  indexes: /** @type {any[]} */ ([]),
  /** The compare view's two columns: each index's name, top hits and total. */
  compared: /** @type {{name: string, hits: any[], total: number}[] | null} */ (null),
  /** field -> (value as text -> value as the API sent it), from /api/facets. */
  facetValues: /** @type {Map<string, Map<string, unknown>> | null} */ (null),
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

const queryChip = createQueryChip({ api, apiBase });
const detail = createDetail({
  api,
  apiBase,
  onFindSimilar: (id, index) => update({ ...newQuery({ similar: id }), ...similarIndexes(index) }),
  suggestedLabels: () => [...(page.facetValues?.get('label')?.keys() ?? [])],
});

// ---------------------------------------------------------------------------------------------
// State changes

/**
 * Change what the user asked for, then bring the controls, the address bar and the results in
 * line with it. Every user action that changes the search goes through here.
 * @param {Partial<import('./urlstate.js').SearchState>} changes
 * @param {{history?: 'push' | 'replace'}} [options] push makes a new history entry (when the URL
 *   or the query image changed); replace rewrites the current one
 */
function update(changes, { history = 'push' } = {}) {
  const previousIndex = page.search.index;
  page.search = { ...page.search, ...changes };
  if (page.search.index !== previousIndex) loadIndexFacts();
  // Any change ends a typing entry; typing marks the entry it makes itself.
  page.typingEntry = false;
  // Only a new query rewrites the box, so a filter change keeps what is being typed.
  if ('q' in changes && els.q.value.trim() !== page.search.q) els.q.value = page.search.q;
  writeHistory(history);
  showSearch();
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

/** Load what was asked from the current URL (page load, back/forward). */
function restore() {
  const isFilter = (field) =>
    page.facetValues ? page.facetValues.has(field) : !RESERVED.has(field);
  const search = stateFromUrl(window.location.search, isFilter);
  Object.assign(search, knownIndexes(search, indexNames()));
  if (search.index !== page.search.index) {
    page.search = { ...page.search, index: search.index };
    loadIndexFacts();
  }
  const imageKey = window.history.state?.imageKey;
  const image = imageKey && !hasQuery(search) ? page.images.get(imageKey) : undefined;
  if (image) search.image = image;
  page.search = search;
  page.typingEntry = false;
  els.q.value = search.q;
  showSearch();
  // Query images live in memory only, so a reloaded image search has nothing to run.
  if (imageKey && !hasQuery(search)) {
    render('intro', { note: 'The query image is not kept after a reload; drop or pick it again.' });
  }
}

/** Show what was asked in the controls and search for it. */
function showSearch() {
  const { filters, minScore } = page.search;
  showSelected(els.facets, filters);
  els.minScore.value = String(minScore ?? 0);
  renderMinScore();
  els.clearFilters.disabled = filters.size === 0 && minScore === null;
  const active = [...filters.values()].reduce((n, v) => n + v.length, 0);
  els.filtersToggle.textContent = active ? `Filters (${active})` : 'Filters';
  queryChip.show(page.search);
  showIndexChoice();
  runSearch();
}

/** The served index names, the default first. */
function indexNames() {
  return page.indexes.map((index) => String(index.name));
}

/** The index searched: the chosen one, else the service's default. */
function searchedIndex() {
  return page.search.index ?? indexNames()[0] ?? null;
}

/**
 * Where "find similar" on an image of `index` searches: in that index, and when it is not the
 * one searched (an image of the compare view), the two indexes swap places.
 * @param {string | undefined} index
 */
function similarIndexes(index) {
  const searched = searchedIndex();
  if (index === undefined || index === searched) return {};
  return knownIndexes({ index, compare: searched }, indexNames());
}

/** Fill the index pickers once the served indexes are known (hidden for a single index). */
function renderIndexPickers() {
  els.indexRow.hidden = page.indexes.length < 2;
  const option = (index) => {
    const count = Number(index.count);
    const images = `${count} image${count === 1 ? '' : 's'}`;
    const label = `${index.name} — ${index.family}, ${index.dim}-d, ${images}`;
    return h('option', { value: String(index.name) }, label);
  };
  els.indexPicker.replaceChildren(...page.indexes.map(option));
  els.comparePicker.replaceChildren(
    h('option', { value: '' }, 'No comparison'),
    ...page.indexes.map(option),
  );
}

/** Show the chosen indexes in the pickers (the one searched cannot be compared with itself). */
function showIndexChoice() {
  const searched = searchedIndex();
  if (searched !== null) els.indexPicker.value = searched;
  els.comparePicker.value = page.search.compare ?? '';
  for (const option of els.comparePicker.options) {
    option.disabled = option.value !== '' && option.value === searched;
  }
}

// ---------------------------------------------------------------------------------------------
// Searching

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
    render('intro');
    return;
  }

  const offset = append ? page.shown.nextOffset : 0;
  const compare = asked.compare;
  /** @type {{k: number, offset: number, filters?: object, min_score?: number}} */
  const params = { k: compare === null ? PAGE_SIZE : COMPARE_SIZE, offset };
  const filters = requestFilters(asked.filters, page.facetValues);
  if (filters) params.filters = filters;
  if (asked.minScore !== null) params.min_score = asked.minScore;

  render('loading', { append });
  try {
    if (compare !== null) {
      const names = [searchedIndex() ?? '', compare];
      const answers = await Promise.all(names.map((name) => searchIn(name, params, signal)));
      if (page.inFlight !== controller) return;
      addCompared(names, answers);
      render('results');
      return;
    }
    const answer = await searchIn(null, params, signal);
    if (page.inFlight !== controller) return;
    const firstNew = addResults(answer, append, offset);
    render('results');
    // After "Load more", move focus to the first new card so keyboard users continue from there.
    if (append) els.results.children[firstNew]?.querySelector('button')?.focus();
  } catch (error) {
    if (isAbort(error) || page.inFlight !== controller) return;
    if (error.status === 401) render('signin');
    else render('error', { error, append });
  }
}

/**
 * Run the query asked in one index (null: the current one). Image ids are per index, so a
 * "similar" query sends the image's own file to any other index.
 * @param {string | null} name
 * @param {{k: number, offset: number, filters?: object, min_score?: number}} params
 * @param {AbortSignal} signal
 */
async function searchIn(name, params, signal) {
  const asked = page.search;
  const inIndex = name === null ? params : { ...params, index: name };
  if (asked.image) return api.searchImage(asked.image, inIndex, signal);
  if (asked.similar !== null) {
    if (name === null || name === searchedIndex()) {
      return api.search({ image_id: asked.similar, ...inIndex }, signal);
    }
    const file = await api.imageFile(asked.similar, searchedIndex(), signal);
    return api.searchImage(file, inIndex, signal);
  }
  return api.search({ text: asked.q, ...inIndex }, signal);
}

/**
 * Show two answers side by side, each hit marked with its index (its detail and "find similar"
 * then ask that index).
 * @param {string[]} names
 * @param {any[]} answers /api/search responses, in the order of names
 */
function addCompared(names, answers) {
  clearResults();
  page.compared = names.map((name, i) => {
    const batch = Array.isArray(answers[i].results) ? answers[i].results : [];
    const total = Number.isFinite(answers[i].total) ? answers[i].total : batch.length;
    return { name, hits: batch.map((hit) => ({ ...hit, index: name })), total };
  });
  const onOpen = (hit, card) => detail.open(hit, card);
  const described = new Map(page.indexes.map((index) => [String(index.name), index]));
  const columns = page.compared.map(({ name, hits, total }, i) => {
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
 * Add an answer's hits to those shown (replacing them unless appending).
 * @param {any} answer the /api/search response
 * @param {boolean} append
 * @param {number} offset the offset the answer starts at
 * @returns {number} index of the first card added
 */
function addResults(answer, append, offset) {
  const batch = Array.isArray(answer.results) ? answer.results : [];
  if (!append) clearResults();
  const shown = page.shown;
  const seen = new Set(shown.hits.map((hit) => hit.id));
  const fresh = batch.filter((hit) => !seen.has(hit.id));
  const start = shown.hits.length;
  shown.hits.push(...fresh);
  shown.total = Number.isFinite(answer.total) ? answer.total : batch.length;
  shown.nextOffset = offset + PAGE_SIZE;
  shown.hasMore = batch.length === PAGE_SIZE && shown.nextOffset < shown.total;
  shown.answered = true;
  shown.ms = Number(answer.timings_ms?.total);

  const onOpen = (hit, card) => detail.open(hit, card);
  const fragment = document.createDocumentFragment();
  fresh.forEach((hit, i) => fragment.append(resultCard(hit, start + i + 1, { apiBase, onOpen })));
  els.results.append(fragment);
  return start;
}

function clearResults() {
  page.shown = nothingShown();
  page.compared = null;
  clear(els.results);
  clear(els.compare);
}

// ---------------------------------------------------------------------------------------------
// Rendering

/**
 * Draw the results area for a phase. Every part of the area is set here from the phase and what
 * is shown, so parts of two phases never show together.
 * @param {Phase} phase
 * @param {{append?: boolean, error?: any, note?: string}} [details] append: the phase is about
 *   "Load more" (the results so far stay); error: why the search failed (phase error); note: a
 *   line for the status (phase intro)
 */
function render(phase, { append = false, error = null, note = '' } = {}) {
  const loading = phase === 'loading';
  // The previous results stay, faded, while a new search runs, and after a failed "Load more".
  if (phase === 'intro' || phase === 'signin' || (phase === 'error' && !append)) clearResults();
  const { shown } = page;

  els.intro.hidden = phase !== 'intro';
  els.signin.hidden = phase !== 'signin';
  els.error.hidden = phase !== 'error';
  if (phase === 'error') renderError(error);
  const comparing = page.compared !== null;
  els.compare.hidden = !comparing;
  els.compare.classList.toggle('is-stale', loading && comparing);
  els.results.hidden = comparing;
  els.empty.hidden = !(phase === 'results' || loading) || !shown.answered || shown.hits.length > 0;
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
      phase === 'results' ? resultsStatus() : loading ? 'Searching…' : note;
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

  if (phase === 'signin') {
    // Signing in sets a session cookie, which also covers the thumbnails' plain <img> requests.
    els.info.textContent = 'Sign in to search';
    els.signinToken.focus();
  }
}

function resultsStatus() {
  if (page.compared !== null) {
    const [left, right] = page.compared;
    return `Comparing ${left.name} and ${right.name}: their top ${COMPARE_SIZE} results`;
  }
  const { hits, total, ms } = page.shown;
  const timing = Number.isFinite(ms) ? ` · ${Math.round(ms)} ms` : '';
  const { minScore } = page.search;
  const cut = minScore !== null ? ` scoring at least ${minScore.toFixed(2)}` : '';
  return hits.length === 0
    ? `No results${timing}`
    : `Showing ${hits.length}${cut} of ${total} image${total === 1 ? '' : 's'}${timing}`;
}

/** @param {any} error an ApiError (or any Error) */
function renderError(error) {
  const what = page.search.image ? 'The image search failed' : 'The search failed';
  els.error.replaceChildren(
    h('strong', {}, `${what}: `),
    h('span', { class: 'error-message' }, String(error?.message ?? error)),
  );
  if (error?.code && error?.status) {
    els.error.append(h('span', { class: 'error-code' }, ` (${error.code})`));
  }
}

/** @param {any} info the /api/info response */
function renderInfo(info) {
  const encoder = info.encoder && typeof info.encoder === 'object' ? info.encoder : {};
  const count = Number(info.count);
  const parts = [];
  parts.push(h('span', {}, 'Encoder ', h('strong', {}, String(encoder.name || 'unknown'))));
  if (Number.isFinite(count)) {
    parts.push(
      h(
        'span',
        { 'data-count': String(count) },
        h('strong', {}, count.toLocaleString('en')),
        ` image${count === 1 ? '' : 's'} indexed`,
      ),
    );
  }
  const failed = Number(info.failed);
  if (Number.isFinite(failed) && failed > 0) parts.push(h('span', {}, `${failed} failed`));
  if (info.index_type) parts.push(h('span', {}, `${info.index_type} index`));
  els.info.replaceChildren(...parts.flatMap((part, i) => (i ? [' · ', part] : [part])));
  const details = [encoder.model, encoder.fingerprint && `fingerprint ${encoder.fingerprint}`];
  if (info.version) details.push(`MedSearch ${info.version}`);
  els.info.title = details.filter(Boolean).join('\n');
  els.badge.hidden = encoder.random_weights !== true;
}

function renderMinScore() {
  const value = Number(els.minScore.value);
  els.minScoreValue.textContent = value > 0 ? value.toFixed(2) : 'Any';
}

function renderExamples() {
  for (const example of EXAMPLES) {
    const button = h('button', { type: 'button', class: 'chip chip-suggest' }, example);
    button.addEventListener('click', () => update(newQuery({ q: example })));
    els.examples.append(h('li', {}, button));
  }
}

// ---------------------------------------------------------------------------------------------
// Events

/** @param {Blob | null} file */
function searchByImage(file) {
  if (!file) return;
  els.fileInput.value = '';
  update(newQuery({ image: file }));
}

const typed = debounce(() => {
  const q = els.q.value.trim();
  const { search } = page;
  if (q === search.q && !search.image && search.similar === null) return;
  // The first pause while typing makes a history entry; later pauses refine that entry.
  update(newQuery({ q }), { history: page.typingEntry ? 'replace' : 'push' });
  page.typingEntry = true;
}, TYPING_DELAY_MS);

function wireEvents() {
  els.q.addEventListener('input', typed);
  els.form.addEventListener('submit', (event) => {
    event.preventDefault();
    typed.cancel();
    const q = els.q.value.trim();
    // Enter on an empty box keeps an image or "similar" query and just runs it again.
    if (!q && (page.search.image || page.search.similar !== null)) runSearch();
    else update(newQuery({ q }));
  });

  els.imageButton.addEventListener('click', () => els.fileInput.click());
  els.fileInput.addEventListener('change', () => searchByImage(els.fileInput.files?.[0] ?? null));
  els.chipClear.addEventListener('click', () => {
    update(newQuery());
    els.q.focus();
  });

  // Paste an image anywhere (text pastes into the search box behave as usual).
  document.addEventListener('paste', (event) => {
    const files = [...(event.clipboardData?.files ?? [])];
    const image = files.find((f) => f.type.startsWith('image/') || f.type === 'application/dicom');
    if (!image || detail.isOpen()) return;
    event.preventDefault();
    searchByImage(image);
  });

  // Drag and drop anywhere on the page; only file drags show the overlay.
  const carriesFiles = (event) => [...(event.dataTransfer?.types ?? [])].includes('Files');
  window.addEventListener('dragover', (event) => {
    if (!carriesFiles(event) || detail.isOpen()) return;
    event.preventDefault();
    if (event.dataTransfer) event.dataTransfer.dropEffect = 'copy';
    els.dropOverlay.hidden = false;
  });
  window.addEventListener('dragleave', (event) => {
    // relatedTarget is null only when the pointer leaves the window.
    if (event.relatedTarget === null) els.dropOverlay.hidden = true;
  });
  window.addEventListener('drop', (event) => {
    els.dropOverlay.hidden = true;
    if (!carriesFiles(event)) return;
    event.preventDefault();
    if (detail.isOpen()) return;
    searchByImage(event.dataTransfer?.files?.[0] ?? null);
  });

  els.facets.addEventListener('change', (event) => {
    const box = event.target;
    if (!(box instanceof HTMLInputElement) || box.type !== 'checkbox') return;
    const { field = '', value = '' } = box.dataset;
    update({ filters: withFilter(page.search.filters, field, value, box.checked) });
  });
  els.clearFilters.addEventListener('click', () => update({ filters: new Map(), minScore: null }));

  const minScoreChanged = debounce(() => {
    const value = Number(els.minScore.value);
    update({ minScore: value > 0 ? value : null });
  }, MIN_SCORE_DELAY_MS);
  els.minScore.addEventListener('input', renderMinScore);
  els.minScore.addEventListener('change', minScoreChanged);

  els.filtersToggle.addEventListener('click', () => {
    const open = els.filtersToggle.getAttribute('aria-expanded') !== 'true';
    els.filtersToggle.setAttribute('aria-expanded', String(open));
    els.filters.classList.toggle('is-open', open);
  });

  els.loadMore.addEventListener('click', () => runSearch({ append: true }));

  els.indexPicker.addEventListener('change', () => {
    const choice = { index: els.indexPicker.value, compare: page.search.compare };
    update(knownIndexes(choice, indexNames()));
  });
  els.comparePicker.addEventListener('change', () => {
    const choice = { index: page.search.index, compare: els.comparePicker.value || null };
    update(knownIndexes(choice, indexNames()));
  });

  $('home-link').addEventListener('click', (event) => {
    event.preventDefault();
    update({ ...emptyState(), index: page.search.index, compare: page.search.compare });
    els.q.focus();
  });

  window.addEventListener('popstate', () => {
    typed.cancel();
    restore();
  });

  // "/" jumps to the search box, as on many search sites.
  document.addEventListener('keydown', (event) => {
    if (event.key !== '/' || event.ctrlKey || event.metaKey || event.altKey) return;
    const target = /** @type {HTMLElement} */ (event.target);
    if (target.closest('input, textarea, select, [contenteditable]') || detail.isOpen()) return;
    event.preventDefault();
    els.q.focus();
    els.q.select();
  });
}

function wireSignIn() {
  els.signin.addEventListener('submit', async (event) => {
    event.preventDefault();
    els.signinError.hidden = true;
    try {
      await api.signIn(els.signinToken.value);
      window.location.reload();
    } catch (error) {
      els.signinError.textContent =
        error.status === 401 ? 'That token is not right. Try again.' : error.message;
      els.signinError.hidden = false;
      els.signinToken.select();
    }
  });
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
  els.info.classList.remove('is-error');
  if (info.status === 'fulfilled') {
    renderInfo(info.value);
    detail.useDefaultTemplate(info.value.default_template);
  } else {
    els.info.textContent = `Search service unavailable: ${info.reason?.message ?? 'unknown error'}`;
    els.info.classList.add('is-error');
  }
  if (
    facets.status === 'fulfilled' &&
    facets.value.facets &&
    typeof facets.value.facets === 'object'
  ) {
    page.facetValues = renderFacets(els.facets, facets.value.facets);
  } else {
    clear(els.facets);
    const reason = facets.status === 'rejected' ? facets.reason?.message : 'no facets';
    els.facets.append(h('p', { class: 'muted' }, `Filters unavailable (${reason}).`));
  }
  showSelected(els.facets, page.search.filters);
  return true;
}

async function init() {
  wireEvents();
  wireSignIn();
  renderExamples();
  try {
    const answer = await api.indexes();
    page.indexes = Array.isArray(answer.indexes) ? answer.indexes : [];
  } catch (error) {
    page.indexes = []; // the header reports why the service cannot be used
    if (error?.status === 401) {
      render('signin');
      document.body.dataset.ready = 'true';
      return;
    }
  }
  renderIndexPickers();
  const fromUrl = stateFromUrl(window.location.search, () => false);
  page.search = { ...page.search, ...knownIndexes(fromUrl, indexNames()) };
  if (!(await loadIndexFacts())) {
    render('signin');
    document.body.dataset.ready = 'true';
    return;
  }
  restore();
  document.body.dataset.ready = 'true';
}

init();
