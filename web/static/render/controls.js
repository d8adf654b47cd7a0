/**
 * The search controls drawn from the search state: the ticked filters, "Strong matches only",
 * the minimum score, the
 * "Group by" picker, the filter count on the narrow-screen toggle, and the example queries of
 * the intro.
 */

import { h } from '../lib/dom.js';
import { showSelected } from './facets.js';

/** Example queries offered before any search. */
const EXAMPLES = [
  'chest X-ray with pleural effusion',
  'ground-glass opacities in both lungs',
  'axial CT of the abdomen',
  'MRI of the brain',
  'retinal fundus photograph',
  'histopathology slide with brown stain',
];

/**
 * Show what was asked in the filter controls.
 * @param {import('../elements.js').PageElements} els
 * @param {import('../lib/urlstate.js').SearchState} search
 */
export function showControls(els, { filters, minScore, minZ, collapse, mode, dedupe }) {
  showSelected(els.facets, filters);
  els.mode.value = mode ?? 'dense';
  showGroupBy(els, collapse);
  els.hideDuplicates.checked = dedupe;
  els.minScore.value = String(minScore ?? 0);
  renderMinScore(els);
  els.strongOnly.checked = minZ !== null;
  // the raw score is an advanced control: open when a minimum score is in effect
  if (minScore !== null) els.scoreAdvanced.open = true;
  els.clearFilters.disabled = filters.size === 0 && minScore === null && minZ === null;
  // "No image matches" offers the same button beside its message, where the eye is
  els.emptyClearFilters.hidden = els.clearFilters.disabled;
  const active = [...filters.values()].reduce((n, v) => n + v.length, 0);
  els.filtersToggle.textContent = active ? `Filters (${active})` : 'Filters';
}

/**
 * The "Group by" picker's choices: one result per image, or per value of each field offered;
 * hidden when the index offers none.
 * @param {import('../elements.js').PageElements} els
 * @param {string[]} fields
 * @param {string | null} chosen the field grouped by now
 */
export function renderGroupBy(els, fields, chosen) {
  const options = [h('option', { value: '' }, 'Each image')];
  for (const field of fields) options.push(h('option', { value: field }, field));
  els.groupBy.replaceChildren(...options);
  els.groupByBlock.hidden = fields.length === 0 && chosen === null;
  showGroupBy(els, chosen);
}

/**
 * Show the field grouped by in the picker (one the picker does not offer, from a URL, is added).
 * @param {import('../elements.js').PageElements} els
 * @param {string | null} chosen
 */
function showGroupBy(els, chosen) {
  const value = chosen ?? '';
  if (![...els.groupBy.options].some((option) => option.value === value)) {
    els.groupBy.append(h('option', { value }, value));
    els.groupByBlock.hidden = false;
  }
  els.groupBy.value = value;
}

/**
 * Show the slider's value next to it ("Any" at zero).
 * @param {import('../elements.js').PageElements} els
 */
export function renderMinScore(els) {
  const value = Number(els.minScore.value);
  els.minScoreValue.textContent = value > 0 ? value.toFixed(2) : 'Any';
}

/**
 * The example queries, each a button that searches for it.
 * @param {import('../elements.js').PageElements} els
 * @param {(example: string) => void} onPick
 */
export function renderExamples(els, onPick) {
  for (const example of EXAMPLES) {
    const button = h('button', { type: 'button', class: 'chip chip-suggest' }, example);
    button.addEventListener('click', () => onPick(example));
    els.examples.append(h('li', {}, button));
  }
}
