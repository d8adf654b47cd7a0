/**
 * The page's elements by their id in web/templates/web/index.html, looked up once: the render
 * modules draw into them, update.js reads the search box, events.js listens to them.
 */

const $ = (id) => /** @type {HTMLElement} */ (document.getElementById(id));

/** The elements of the search page (module scripts run once the document is parsed). */
export function pageElements() {
  return {
    form: /** @type {HTMLFormElement} */ ($('search-form')),
    q: /** @type {HTMLInputElement} */ ($('q')),
    mode: /** @type {HTMLSelectElement} */ ($('mode')),
    homeLink: $('home-link'),
    imageButton: $('image-button'),
    fileInput: /** @type {HTMLInputElement} */ ($('file-input')),
    chipClear: $('query-chip-clear'),
    info: $('service-info'),
    badge: $('random-weights-badge'),
    noticeModel: $('notice-model'),
    filters: $('filters'),
    filtersToggle: $('filters-toggle'),
    facets: $('facets'),
    clearFilters: /** @type {HTMLButtonElement} */ ($('clear-filters')),
    minScore: /** @type {HTMLInputElement} */ ($('min-score')),
    strongOnly: /** @type {HTMLInputElement} */ ($('strong-only')),
    scoreAdvanced: /** @type {HTMLDetailsElement} */ ($('score-advanced')),
    emptyCut: $('empty-cut'),
    groupByBlock: $('group-by-block'),
    groupBy: /** @type {HTMLSelectElement} */ ($('group-by')),
    hideDuplicates: /** @type {HTMLInputElement} */ ($('hide-duplicates')),
    minScoreValue: /** @type {HTMLOutputElement} */ ($('min-score-value')),
    progress: $('progress'),
    status: $('status'),
    error: $('error'),
    intro: $('intro'),
    examples: $('examples'),
    empty: $('empty'),
    emptyClearFilters: $('empty-clear-filters'),
    emptySuggestions: $('empty-suggestions'),
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
}

/** @typedef {ReturnType<typeof pageElements>} PageElements */
