/**
 * MedSearch search page.
 *
 * One state object (text query, "similar to" id or query image, filters, minimum score) drives
 * everything: it is written to the URL (history.pushState) whenever the user changes it, read
 * back on load and on back/forward, and turned into requests to the JSON API.
 */

import { createApi, isAbort } from './api.js';
import { createDetail } from './detail.js';
import { clear, debounce, fieldLabel, formatBytes, h, safeUrl } from './dom.js';
import { emptyState, hasQuery, RESERVED, stateFromUrl, urlFromState } from './urlstate.js';

/** Results per request; 24 fills whole rows of 2, 3, 4 or 6 columns. */
const PAGE_SIZE = 24;
const TYPING_DELAY_MS = 350;
/** Facet fields listed first (open), in this order; the others go under "More filters". */
const FIRST_FACETS = ['modality', 'body_part', 'label'];
/** A field whose values are all different (file names, ids) is no use as a filter past this. */
const MAX_UNIQUE_FACET_VALUES = 20;
/** Values shown per facet before "Show all". */
const FACET_PREVIEW = 8;
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
const api = createApi(apiBase);

const els = {
  form: /** @type {HTMLFormElement} */ ($('search-form')),
  q: /** @type {HTMLInputElement} */ ($('q')),
  imageButton: $('image-button'),
  fileInput: /** @type {HTMLInputElement} */ ($('file-input')),
  chip: $('query-chip'),
  chipMedia: $('query-chip-media'),
  chipText: $('query-chip-text'),
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
  loadMore: /** @type {HTMLButtonElement} */ ($('load-more')),
  dropOverlay: $('drop-overlay'),
  signin: /** @type {HTMLFormElement} */ ($('signin-form')),
  signinToken: /** @type {HTMLInputElement} */ ($('signin-token')),
  signinError: $('signin-error'),
};

/** @type {import('./urlstate.js').SearchState} */
let state = emptyState();

/** Results shown so far, the eligible total, and the offset of the next page. */
const view = { hits: /** @type {any[]} */ ([]), total: 0, nextOffset: 0, hasMore: false };

/** field -> (value as string -> value as the API sent it), from /api/facets. */
let facetValues = /** @type {Map<string, Map<string, unknown>> | null} */ (null);

/** Aborts the search in flight when a newer one starts. */
let searchController = new AbortController();
/** Incremented per search so a late answer to an older one is ignored. */
let searchSeq = 0;

/**
 * Query images cannot go in a URL; each history entry made for one keeps a key into this map
 * so back/forward within the session can bring it back.
 */
const imageStore = new Map();
let imageKeySeq = 0;
/** Object URL of the query image preview and its image, revoked when replaced. */
let preview = { image: /** @type {Blob | null} */ (null), url: '' };

/** True while the current history entry was made by typing (later keystrokes replace it). */
let typingEntry = false;

const detail = createDetail({
  api,
  apiBase,
  onFindSimilar: (id) => {
    setQuery({ similar: id });
    commit('push');
  },
  suggestedLabels: () => [...(facetValues?.get('label')?.keys() ?? [])],
});

// ---------------------------------------------------------------------------------------------
// State changes

/**
 * Replace the query (text, similar id or image), keeping filters and minimum score.
 * @param {{q?: string, similar?: number | null, image?: Blob | null}} query
 */
function setQuery({ q = '', similar = null, image = null }) {
  state = { ...state, q, similar, image };
  if (els.q.value.trim() !== q) els.q.value = q;
}

/**
 * Write the state to the URL and search.
 * @param {'push' | 'replace'} mode push makes a new history entry (when anything changed)
 */
function commit(mode) {
  const url = urlFromState(state) || window.location.pathname;
  const imageKey = state.image ? keyForImage(state.image) : null;
  const changed =
    new URL(url, window.location.href).search !== window.location.search ||
    imageKey !== (window.history.state?.imageKey ?? null);
  if (mode === 'push' && changed) window.history.pushState({ imageKey }, '', url);
  else window.history.replaceState({ imageKey }, '', url);
  renderQueryChip();
  search();
}

function keyForImage(image) {
  for (const [key, stored] of imageStore) if (stored === image) return key;
  const key = `img-${Date.now()}-${++imageKeySeq}`;
  imageStore.set(key, image);
  return key;
}

/** Load the state from the current URL (page load, back/forward). */
function restoreFromLocation() {
  const isFilter = (field) => (facetValues ? facetValues.has(field) : !RESERVED.has(field));
  state = stateFromUrl(window.location.search, isFilter);
  const imageKey = window.history.state?.imageKey;
  const imageLost = Boolean(imageKey) && !hasQuery(state) && !imageStore.has(imageKey);
  if (imageKey && !hasQuery(state) && imageStore.has(imageKey)) {
    state.image = imageStore.get(imageKey);
  }
  els.q.value = state.q;
  syncFilterControls();
  renderQueryChip();
  search();
  // Query images live in memory only, so a reloaded image search has nothing to run.
  if (imageLost) {
    els.status.textContent = 'The query image is not kept after a reload; drop or pick it again.';
  }
}

function filtersForRequest() {
  if (state.filters.size === 0) return undefined;
  const filters = {};
  for (const [field, values] of state.filters) {
    // Send values with the type the facets gave them (numbers stay numbers).
    const known = facetValues?.get(field);
    const raw = values.map((v) => (known && known.has(v) ? known.get(v) : v));
    filters[field] = raw.length === 1 ? raw[0] : raw;
  }
  return filters;
}

// ---------------------------------------------------------------------------------------------
// Searching

/**
 * Run the current query.
 * @param {{append?: boolean}} [options] append: fetch the next page ("Load more")
 */
async function search({ append = false } = {}) {
  searchController.abort();
  searchController = new AbortController();
  const { signal } = searchController;
  const seq = ++searchSeq;

  if (!hasQuery(state)) {
    setLoading(false);
    showIntro();
    return;
  }

  const offset = append ? view.nextOffset : 0;
  const params = { k: PAGE_SIZE, offset };
  const filters = filtersForRequest();
  if (filters) params.filters = filters;
  if (state.minScore !== null) params.min_score = state.minScore;

  setLoading(true, append);
  els.error.hidden = true;
  els.intro.hidden = true;
  try {
    let answer;
    if (state.image) answer = await api.searchImage(state.image, params, signal);
    else if (state.similar !== null) {
      answer = await api.search({ image_id: state.similar, ...params }, signal);
    } else answer = await api.search({ text: state.q, ...params }, signal);
    if (seq !== searchSeq) return;
    showResults(answer, append, offset);
  } catch (error) {
    if (isAbort(error) || seq !== searchSeq) return;
    if (error.status === 401) askForToken();
    else showError(error, append);
  } finally {
    if (seq === searchSeq) setLoading(false);
  }
}

/** @param {any} answer the /api/search response */
function showResults(answer, append, offset) {
  const page = Array.isArray(answer.results) ? answer.results : [];
  const total = Number.isFinite(answer.total) ? answer.total : page.length;
  if (!append) {
    view.hits = [];
    clear(els.results);
  }
  const seen = new Set(view.hits.map((hit) => hit.id));
  const fresh = page.filter((hit) => !seen.has(hit.id));
  const start = view.hits.length;
  view.hits.push(...fresh);
  view.total = total;
  view.nextOffset = offset + PAGE_SIZE;
  view.hasMore = page.length === PAGE_SIZE && view.nextOffset < total;

  const fragment = document.createDocumentFragment();
  fresh.forEach((hit, i) => fragment.append(renderCard(hit, start + i + 1)));
  els.results.append(fragment);

  els.empty.hidden = view.hits.length > 0;
  els.loadMore.hidden = !view.hasMore;
  const ms = answer.timings_ms && Number(answer.timings_ms.total);
  const timing = Number.isFinite(ms) ? ` · ${Math.round(ms)} ms` : '';
  const cut = state.minScore !== null ? ` scoring at least ${state.minScore.toFixed(2)}` : '';
  els.status.textContent =
    view.hits.length === 0
      ? `No results${timing}`
      : `Showing ${view.hits.length}${cut} of ${total} image${total === 1 ? '' : 's'}${timing}`;
  els.status.dataset.shown = String(view.hits.length);
  els.status.dataset.total = String(total);

  // After "Load more", move focus to the first new card so keyboard users continue from there.
  if (append && fresh.length > 0) {
    const first = els.results.children[start]?.querySelector('button');
    if (first instanceof HTMLElement) first.focus();
  }
}

function showError(error, append) {
  const box = els.error;
  clear(box);
  const what = state.image ? 'The image search failed' : 'The search failed';
  box.append(h('strong', {}, `${what}: `), h('span', { class: 'error-message' }, error.message));
  if (error.code && error.status)
    box.append(h('span', { class: 'error-code' }, ` (${error.code})`));
  box.hidden = false;
  els.status.textContent = '';
  delete els.status.dataset.shown;
  delete els.status.dataset.total;
  if (!append) {
    view.hits = [];
    clear(els.results);
    els.loadMore.hidden = true;
  }
  els.empty.hidden = true;
}

function showIntro() {
  view.hits = [];
  clear(els.results);
  els.status.textContent = '';
  delete els.status.dataset.shown;
  delete els.status.dataset.total;
  els.error.hidden = true;
  els.empty.hidden = true;
  els.loadMore.hidden = true;
  els.intro.hidden = false;
}

function setLoading(loading, append = false) {
  els.progress.hidden = !loading;
  els.results.setAttribute('aria-busy', String(loading));
  els.results.classList.toggle('is-stale', loading && !append);
  document.body.classList.toggle('is-loading', loading);
  els.loadMore.disabled = loading;
  els.loadMore.textContent = loading && append ? 'Loading…' : 'Load more';
  if (loading && !append) {
    els.status.textContent = 'Searching…';
    // Counts describe finished searches only (tests and tools wait on them).
    delete els.status.dataset.shown;
    delete els.status.dataset.total;
  }
}

// ---------------------------------------------------------------------------------------------
// Rendering

/** A thumbnail stand-in for images the browser cannot show (DICOM queries, failed loads). */
function placeholder(text) {
  return h('span', { class: 'placeholder' }, h('span', {}, text));
}

function renderCard(hit, rank) {
  const id = Number(hit.id);
  const meta = hit.metadata && typeof hit.metadata === 'object' ? hit.metadata : {};
  const tags = [meta.modality, meta.body_part, meta.label]
    .filter((v) => v !== null && v !== undefined && v !== '')
    .map(String)
    .filter((v, i, all) => all.indexOf(v) === i);
  const src =
    safeUrl(hit.thumbnail_url) ?? safeUrl(`${apiBase}/images/${encodeURIComponent(id)}/thumbnail`);
  const thumb = h('span', { class: 'thumb' });
  if (src) {
    const img = h('img', { src, alt: '', loading: 'lazy', decoding: 'async' });
    img.addEventListener('error', () => img.replaceWith(placeholder('No preview')), { once: true });
    thumb.append(img);
  } else thumb.append(placeholder('No preview'));
  thumb.append(h('span', { class: 'rank', 'aria-hidden': 'true' }, `#${rank}`));

  const score = Number(hit.score);
  const text = hit.caption || hit.path || `Image #${id}`;
  const card = h(
    'button',
    {
      type: 'button',
      class: 'card',
      dataset: { id: String(id), path: String(hit.path ?? ''), score: String(score) },
      'aria-haspopup': 'dialog',
    },
    thumb,
    h(
      'span',
      { class: 'card-body' },
      h(
        'span',
        { class: 'card-top' },
        h(
          'span',
          { class: 'score' },
          h('span', { class: 'visually-hidden' }, `Result ${rank}, score `),
          Number.isFinite(score) ? score.toFixed(3) : '–',
        ),
        h(
          'span',
          { class: 'tags' },
          tags.map((tag) => h('span', { class: 'tag' }, tag)),
        ),
      ),
      h('span', { class: 'caption' }, text),
    ),
  );
  card.addEventListener('click', () => detail.open(hit, card));
  return h('li', {}, card);
}

function revokePreview() {
  if (preview.url) URL.revokeObjectURL(preview.url);
  preview = { image: null, url: '' };
}

function renderQueryChip() {
  if (preview.image !== state.image) revokePreview();
  clear(els.chipMedia);
  if (state.image) {
    const file = state.image;
    const name = file instanceof File && file.name ? file.name : 'pasted image';
    els.chip.dataset.kind = 'image';
    els.chipText.replaceChildren(
      h('span', { class: 'muted' }, 'Images like '),
      h('strong', {}, name),
      h('span', { class: 'muted' }, ` · ${formatBytes(file.size)}`),
    );
    showQueryPreview(file, name);
  } else if (state.similar !== null) {
    const id = state.similar;
    els.chip.dataset.kind = 'similar';
    const src = safeUrl(`${apiBase}/images/${encodeURIComponent(id)}/thumbnail`);
    if (src) {
      const img = h('img', { src, alt: '' });
      img.addEventListener('error', () => img.replaceWith(placeholder('Image')), { once: true });
      els.chipMedia.append(img);
    }
    const label = h('span', {}, '');
    els.chipText.replaceChildren(h('span', { class: 'muted' }, `Images similar to #${id} `), label);
    // Best effort: name the image by its caption.
    api.image(id).then(
      (record) => {
        if (state.similar === id && record.caption) label.textContent = `— ${record.caption}`;
      },
      () => {},
    );
  } else {
    delete els.chip.dataset.kind;
  }
  els.chip.hidden = !state.image && state.similar === null;
}

/** Show the query image, or its name on a placeholder when the browser cannot decode it. */
async function showQueryPreview(file, name) {
  if (await looksLikeDicom(file)) {
    els.chipMedia.replaceChildren(placeholder('DICOM'));
    return;
  }
  if (state.image !== file) return; // replaced while the magic bytes were read
  if (preview.image !== file) {
    revokePreview();
    preview = { image: file, url: URL.createObjectURL(file) };
  }
  const img = h('img', { src: preview.url, alt: `Query image ${name}` });
  img.addEventListener('error', () => img.replaceWith(placeholder('No preview')), { once: true });
  els.chipMedia.replaceChildren(img);
}

/** DICOM by name, type or the "DICM" magic after the 128-byte preamble. */
async function looksLikeDicom(file) {
  if (file instanceof File && /\.(dcm|dicom)$/i.test(file.name)) return true;
  if (file.type === 'application/dicom') return true;
  if (file.size < 132) return false;
  try {
    const magic = new Uint8Array(await file.slice(128, 132).arrayBuffer());
    return String.fromCharCode(...magic) === 'DICM';
  } catch {
    return false;
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

/** @param {Record<string, {value: unknown, count: number}[]>} facets */
function renderFacets(facets) {
  facetValues = new Map();
  clear(els.facets);
  const fields = Object.keys(facets);
  const more = h('div', { class: 'facet-more-list' });
  for (const field of [
    ...FIRST_FACETS.filter((f) => fields.includes(f)),
    ...fields.filter((f) => !FIRST_FACETS.includes(f)).sort(),
  ]) {
    const entries = (Array.isArray(facets[field]) ? facets[field] : []).filter(
      (e) => e && e.value !== null && e.value !== undefined && e.value !== '',
    );
    if (entries.length === 0) continue;
    const primary = FIRST_FACETS.includes(field);
    const allUnique = entries.every((e) => e.count === 1);
    if (!primary && allUnique && entries.length > MAX_UNIQUE_FACET_VALUES) continue;
    const values = new Map(entries.map((e) => [String(e.value), e.value]));
    facetValues.set(field, values);
    const group = renderFacetGroup(field, entries, primary);
    if (primary) els.facets.append(group);
    else more.append(group);
  }
  if (more.childElementCount > 0) {
    els.facets.append(
      h(
        'details',
        { class: 'facet facet-more' },
        h(
          'summary',
          {},
          'More filters',
          h('span', { class: 'count' }, String(more.childElementCount)),
        ),
        more,
      ),
    );
  }
  if (facetValues.size === 0)
    els.facets.append(h('p', { class: 'muted' }, 'No filters available.'));
}

/**
 * One field's checkbox list, the most frequent values first and the rest behind "Show all".
 * @param {string} field
 * @param {{value: unknown, count: number}[]} entries
 * @param {boolean} open
 */
function renderFacetGroup(field, entries, open) {
  const items = entries.map((entry, index) => {
    const value = String(entry.value);
    return h(
      'li',
      { hidden: index >= FACET_PREVIEW },
      h(
        'label',
        { class: 'facet-option' },
        h('input', { type: 'checkbox', name: field, value, dataset: { field, value } }),
        h('span', { class: 'facet-value' }, value),
        h('span', { class: 'count' }, String(entry.count ?? '')),
      ),
    );
  });
  const group = h(
    'details',
    { class: 'facet', open, dataset: { field } },
    h('summary', {}, fieldLabel(field), h('span', { class: 'count' }, String(entries.length))),
    h(
      'fieldset',
      {},
      h('legend', { class: 'visually-hidden' }, fieldLabel(field)),
      h('ul', { class: 'facet-list' }, items),
    ),
  );
  if (entries.length > FACET_PREVIEW) {
    const toggle = h(
      'button',
      { type: 'button', class: 'link-button', 'aria-expanded': 'false' },
      `Show all ${entries.length}`,
    );
    toggle.addEventListener('click', () => {
      const expand = toggle.getAttribute('aria-expanded') !== 'true';
      items.forEach((li, i) => {
        li.hidden = !expand && i >= FACET_PREVIEW;
      });
      toggle.setAttribute('aria-expanded', String(expand));
      toggle.textContent = expand ? 'Show fewer' : `Show all ${entries.length}`;
    });
    group.append(toggle);
  }
  return group;
}

/** Make checkboxes and the slider show `state`. */
function syncFilterControls() {
  for (const box of els.facets.querySelectorAll('input[type="checkbox"]')) {
    const input = /** @type {HTMLInputElement} */ (box);
    const selected = state.filters.get(input.dataset.field ?? '') ?? [];
    input.checked = selected.includes(input.dataset.value ?? '');
    // A checked value hidden behind "Show all" or a closed group would be easy to forget.
    if (!input.checked) continue;
    input.closest('li')?.removeAttribute('hidden');
    let group = input.closest('details');
    while (group) {
      group.open = true;
      group = group.parentElement?.closest('details') ?? null;
    }
  }
  els.minScore.value = String(state.minScore ?? 0);
  renderMinScore();
  els.clearFilters.disabled = state.filters.size === 0 && state.minScore === null;
  const active = [...state.filters.values()].reduce((n, v) => n + v.length, 0);
  els.filtersToggle.textContent = active ? `Filters (${active})` : 'Filters';
}

function renderMinScore() {
  const value = Number(els.minScore.value);
  els.minScoreValue.textContent = value > 0 ? value.toFixed(2) : 'Any';
}

function renderExamples() {
  for (const example of EXAMPLES) {
    const button = h('button', { type: 'button', class: 'chip chip-suggest' }, example);
    button.addEventListener('click', () => {
      setQuery({ q: example });
      typingEntry = false;
      commit('push');
    });
    els.examples.append(h('li', {}, button));
  }
}

// ---------------------------------------------------------------------------------------------
// Events

function searchByImage(file) {
  if (!file) return;
  setQuery({ image: file });
  typingEntry = false;
  els.fileInput.value = '';
  commit('push');
}

const typed = debounce(() => {
  const q = els.q.value.trim();
  if (q === state.q && !state.image && state.similar === null) return;
  setQuery({ q });
  // The first pause while typing makes a history entry; later pauses refine that entry.
  commit(typingEntry ? 'replace' : 'push');
  typingEntry = true;
}, TYPING_DELAY_MS);

function wireEvents() {
  els.q.addEventListener('input', typed);
  els.form.addEventListener('submit', (event) => {
    event.preventDefault();
    typed.cancel();
    const q = els.q.value.trim();
    // Enter on an empty box keeps an image or "similar" query and just runs it again.
    if (!q && (state.image || state.similar !== null)) {
      search();
      return;
    }
    setQuery({ q });
    commit('push');
    typingEntry = false;
  });

  els.imageButton.addEventListener('click', () => els.fileInput.click());
  els.fileInput.addEventListener('change', () => searchByImage(els.fileInput.files?.[0] ?? null));
  els.chipClear.addEventListener('click', () => {
    setQuery({});
    typingEntry = false;
    commit('push');
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
    const field = box.dataset.field ?? '';
    const value = box.dataset.value ?? '';
    const filters = new Map(state.filters);
    const values = (filters.get(field) ?? []).filter((v) => v !== value);
    if (box.checked) values.push(value);
    if (values.length) filters.set(field, values);
    else filters.delete(field);
    state = { ...state, filters };
    typingEntry = false;
    syncFilterControls();
    commit('push');
  });
  els.clearFilters.addEventListener('click', () => {
    state = { ...state, filters: new Map(), minScore: null };
    typingEntry = false;
    syncFilterControls();
    commit('push');
  });

  const minScoreChanged = debounce(() => {
    const value = Number(els.minScore.value);
    state = { ...state, minScore: value > 0 ? value : null };
    typingEntry = false;
    syncFilterControls();
    commit('push');
  }, 250);
  els.minScore.addEventListener('input', renderMinScore);
  els.minScore.addEventListener('change', minScoreChanged);

  els.filtersToggle.addEventListener('click', () => {
    const open = els.filtersToggle.getAttribute('aria-expanded') !== 'true';
    els.filtersToggle.setAttribute('aria-expanded', String(open));
    els.filters.classList.toggle('is-open', open);
  });

  els.loadMore.addEventListener('click', () => search({ append: true }));

  $('home-link').addEventListener('click', (event) => {
    event.preventDefault();
    state = emptyState();
    els.q.value = '';
    typingEntry = false;
    syncFilterControls();
    commit('push');
    els.q.focus();
  });

  window.addEventListener('popstate', () => {
    typed.cancel();
    typingEntry = false;
    restoreFromLocation();
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

/**
 * The service wants its access token: show the sign-in form instead of results. Signing in sets
 * a session cookie, which also covers the thumbnails' plain <img> requests.
 */
function askForToken() {
  els.info.textContent = 'Sign in to search';
  els.intro.hidden = true;
  els.error.hidden = true;
  els.signin.hidden = false;
  els.signinToken.focus();
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

async function init() {
  wireEvents();
  wireSignIn();
  renderExamples();
  const [info, facets] = await Promise.allSettled([api.info(), api.facets()]);
  if (info.status === 'rejected' && info.reason?.status === 401) {
    askForToken();
    document.body.dataset.ready = 'true';
    return;
  }
  if (info.status === 'fulfilled') renderInfo(info.value);
  else {
    els.info.textContent = `Search service unavailable: ${info.reason?.message ?? 'unknown error'}`;
    els.info.classList.add('is-error');
  }
  if (
    facets.status === 'fulfilled' &&
    facets.value.facets &&
    typeof facets.value.facets === 'object'
  ) {
    renderFacets(facets.value.facets);
  } else {
    clear(els.facets);
    const reason = facets.status === 'rejected' ? facets.reason?.message : 'no facets';
    els.facets.append(h('p', { class: 'muted' }, `Filters unavailable (${reason}).`));
  }
  restoreFromLocation();
  document.body.dataset.ready = 'true';
}

init();
