/**
 * The header's facts about the index searched (encoder, image count, how the model runs, the
 * random-weights badge) and the index pickers.
 */

import { h } from '../lib/dom.js';
import { modelTitle, runtimeFact } from '../lib/models.js';

/**
 * Show the /api/info answer in the header.
 * @param {import('../elements.js').PageElements} els
 * @param {any} info the /api/info response
 */
export function renderInfo(els, info) {
  const encoder = info.encoder && typeof info.encoder === 'object' ? info.encoder : {};
  const count = Number(info.count);
  const parts = [];
  const title = modelTitle(encoder);
  parts.push(h('span', {}, 'Encoder ', h('strong', {}, title || 'unknown')));
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
  const runtime = runtimeFact(encoder);
  if (runtime) parts.push(h('span', { 'data-runtime': String(encoder.runtime) }, runtime));
  els.info.classList.remove('is-error');
  els.info.replaceChildren(...parts.flatMap((part, i) => (i ? [' · ', part] : [part])));
  const details = [encoder.name, encoder.model, encoder.fingerprint && `fingerprint ${encoder.fingerprint}`];
  if (info.version) details.push(`MedSearch ${info.version}`);
  els.info.title = details.filter(Boolean).join('\n');
  els.badge.hidden = encoder.random_weights !== true;
  els.noticeModel.textContent = title || 'The model';
}

/**
 * Say in the header why the service cannot be used.
 * @param {import('../elements.js').PageElements} els
 * @param {string} reason
 */
export function renderInfoUnavailable(els, reason) {
  els.info.textContent = `Search service unavailable: ${reason}`;
  els.info.classList.add('is-error');
}

/**
 * Fill the index pickers with the served indexes (hidden for a single index).
 * @param {import('../elements.js').PageElements} els
 * @param {any[]} indexes the /api/indexes list, the default first
 */
export function renderIndexPickers(els, indexes) {
  els.indexRow.hidden = indexes.length < 2;
  const option = (index) => {
    const count = Number(index.count);
    const images = `${count} image${count === 1 ? '' : 's'}`;
    const label = `${index.name} — ${index.family}, ${index.dim}-d, ${images}`;
    return h('option', { value: String(index.name) }, label);
  };
  els.indexPicker.replaceChildren(...indexes.map(option));
  els.comparePicker.replaceChildren(
    h('option', { value: '' }, 'No comparison'),
    ...indexes.map(option),
  );
}

/**
 * Show the chosen indexes in the pickers (the one searched cannot be compared with itself).
 * @param {import('../elements.js').PageElements} els
 * @param {string | null} searched the index searched (null: not known yet)
 * @param {string | null} compare the index compared with it (null: none)
 */
export function showIndexChoice(els, searched, compare) {
  if (searched !== null) els.indexPicker.value = searched;
  els.comparePicker.value = compare ?? '';
  for (const option of els.comparePicker.options) {
    option.disabled = option.value !== '' && option.value === searched;
  }
}
