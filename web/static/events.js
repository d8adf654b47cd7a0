/**
 * The page's events turned into actions: typing, submitting, picking, pasting or dropping an
 * image, the filters, the minimum score, the "Group by" picker, the index pickers, back/forward, the "/" shortcut and
 * the sign-in form. Every change of the search goes through update().
 */

import { debounce } from './lib/dom.js';
import {
  STRONG_MATCH_Z,
  emptyState,
  knownIndexes,
  newQuery,
  withFilter,
} from './lib/urlstate.js';
import { renderMinScore } from './render/controls.js';
import { indexNames } from './state.js';

const TYPING_DELAY_MS = 350;
const MIN_SCORE_DELAY_MS = 250;
export const BLANK_QUERY_HINT = 'Type what to look for, or drop an image, then press Enter.';

/**
 * @param {object} deps
 * @param {import('./elements.js').PageElements} deps.els
 * @param {ReturnType<import('./state.js').createPage>} deps.page read here, changed by update()
 * @param {ReturnType<import('./update.js').createUpdate>} deps.actions
 * @param {{isOpen: () => boolean}} deps.detail the result panel (files dropped on it are not
 *   queries)
 */
export function wireEvents({ els, page, actions, detail }) {
  const { update, restore, runSearch, showPhase } = actions;

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

  els.q.addEventListener('input', typed);
  els.form.addEventListener('submit', (event) => {
    event.preventDefault();
    typed.cancel();
    const q = els.q.value.trim();
    // Enter on an empty box keeps an image or "similar" query and just runs it again.
    if (!q && (page.search.image || page.search.similar !== null)) runSearch();
    else if (!q) askForWords();
    else update(newQuery({ q }));
  });

  /** Enter on a blank box (spaces only): say what to do rather than nothing. */
  function askForWords() {
    if (page.search.q) update(newQuery());
    els.q.value = '';
    els.q.focus();
    showPhase('intro', { note: BLANK_QUERY_HINT });
  }

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
  const clearFilters = () => update({ filters: new Map(), minScore: null, minZ: null });
  els.clearFilters.addEventListener('click', clearFilters);
  els.emptyClearFilters.addEventListener('click', clearFilters);

  const minScoreChanged = debounce(() => {
    const value = Number(els.minScore.value);
    update({ minScore: value > 0 ? value : null });
  }, MIN_SCORE_DELAY_MS);
  els.minScore.addEventListener('input', () => renderMinScore(els));
  els.minScore.addEventListener('change', minScoreChanged);
  els.strongOnly.addEventListener('change', () =>
    update({ minZ: els.strongOnly.checked ? STRONG_MATCH_Z : null }),
  );

  els.groupBy.addEventListener('change', () => update({ collapse: els.groupBy.value || null }));
  els.mode.addEventListener('change', () => {
    update({ mode: els.mode.value === 'dense' ? null : els.mode.value });
  });
  els.hideDuplicates.addEventListener('change', () =>
    update({ dedupe: els.hideDuplicates.checked }),
  );

  els.filtersToggle.addEventListener('click', () => {
    const open = els.filtersToggle.getAttribute('aria-expanded') !== 'true';
    els.filtersToggle.setAttribute('aria-expanded', String(open));
    els.filters.classList.toggle('is-open', open);
  });

  els.loadMore.addEventListener('click', () => runSearch({ append: true }));

  els.indexPicker.addEventListener('change', () => {
    const choice = { index: els.indexPicker.value, compare: page.search.compare };
    update(knownIndexes(choice, indexNames(page.indexes)));
  });
  els.comparePicker.addEventListener('change', () => {
    const choice = { index: page.search.index, compare: els.comparePicker.value || null };
    update(knownIndexes(choice, indexNames(page.indexes)));
  });

  els.homeLink.addEventListener('click', (event) => {
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

/**
 * The sign-in form: a right token reloads the page with the session cookie set.
 * @param {import('./elements.js').PageElements} els
 * @param {ReturnType<import('./lib/api.js').createApi>} api
 */
export function wireSignIn(els, api) {
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
