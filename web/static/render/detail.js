/**
 * The result panel: a modal <dialog> with the larger image, all metadata, licence and
 * attribution, "find similar", "more like this" and "less like this", zero-shot labels scored through /api/classify, and the group of
 * a grouped result as a strip of its slices (render/groupstrip.js).
 *
 * A native modal dialog gives focus trapping, Escape to close and focus return for free.
 */

import { isAbort } from '../lib/api.js';
import { clear, fieldLabel, formatBytes, h, linkify, safeUrl } from '../lib/dom.js';
import { firstFieldsFirst } from '../lib/fields.js';
import { createGroupStrip } from './groupstrip.js';

/** Metadata shown in the licence box instead of the general table. */
const LICENCE_FIELDS = /^(licen[cs]e|attribution|copyright|author|source)(_|$)/i;
/** Fields folded into derived rows ("Dimensions") or shown elsewhere. */
const DERIVED_FIELDS = new Set(['width', 'height', 'format']);
/** Zero-shot candidates offered when the corpus has no `label` facet to suggest from. */
const GENERIC_LABELS = [
  'chest X-ray',
  'CT scan',
  'MRI',
  'ultrasound',
  'histopathology',
  'fundus photograph',
];

/**
 * @param {object} deps
 * @param {ReturnType<import('../lib/api.js').createApi>} deps.api
 * @param {string} deps.apiBase
 * @param {(id: number, index: string | undefined) => void} deps.onFindSimilar called with the
 *   index the shown image belongs to (undefined: the page's current index)
 * @param {(level: string, group: string, index: string | undefined) => void}
 *   deps.onFindSimilarGroup called with a level (series, study) and the shown image's key of it
 * @param {() => string[]} deps.suggestedLabels label facet values, most frequent first
 * @param {(id: number, direction: 'like' | 'unlike', index: string | undefined) => void}
 *   deps.onSteer called by "More like this" and "Less like this"
 */
export function createDetail({
  api,
  apiBase,
  onFindSimilar,
  onFindSimilarGroup,
  suggestedLabels,
  onSteer,
}) {
  const $ = (id) => /** @type {HTMLElement} */ (document.getElementById(id));
  const dialog = /** @type {HTMLDialogElement} */ ($('detail'));
  const title = $('detail-title');
  const image = /** @type {HTMLImageElement} */ ($('detail-image'));
  const figure = /** @type {HTMLElement} */ (image.parentElement);
  const pathText = $('detail-path');
  const caption = $('detail-caption');
  const metaList = $('detail-meta');
  const licenceBox = $('detail-licence');
  const licenceList = $('licence-list');
  const detailError = $('detail-error');
  const openOriginal = /** @type {HTMLAnchorElement} */ ($('open-original'));
  const openViewer = /** @type {HTMLAnchorElement} */ ($('open-viewer'));
  const classifyForm = /** @type {HTMLFormElement} */ ($('classify-form'));
  const labelInput = /** @type {HTMLInputElement} */ ($('label-input'));
  const templateInput = /** @type {HTMLInputElement} */ ($('template-input'));
  const chips = $('label-chips');
  const suggestions = $('label-suggestions');
  const classifyButton = /** @type {HTMLButtonElement} */ ($('classify-button'));
  const classifyError = $('classify-error');
  const bars = $('classify-results');

  /** @type {{id: number, index: string | undefined} | null} */
  let current = null;
  /** @type {HTMLElement | null} */
  let opener = null;
  /** Aborts requests made for the image shown, when another one is opened or the panel closes. */
  let controller = new AbortController();
  /** Candidate labels persist across images so a label set can be compared over results. */
  let candidates = /** @type {string[] | null} */ (null);
  /** The group of a collapsed result, as a strip of its slices. */
  const strip = createGroupStrip({ api, apiBase });

  $('detail-close').addEventListener('click', () => dialog.close());
  // A click on the backdrop lands on the <dialog> itself (its content fills the box).
  dialog.addEventListener('click', (event) => {
    if (event.target === dialog) dialog.close();
  });
  dialog.addEventListener('close', () => {
    controller.abort();
    image.removeAttribute('src');
    if (opener && opener.isConnected) opener.focus();
    opener = null;
    current = null;
  });
  $('find-similar').addEventListener('click', () => {
    if (!current) return;
    const { id, index } = current;
    dialog.close();
    onFindSimilar(id, index);
  });

  for (const [button, direction] of /** @type {const} */ ([
    ['more-like', 'like'],
    ['less-like', 'unlike'],
  ])) {
    $(button).addEventListener('click', () => {
      if (!current) return;
      const { id, index } = current;
      dialog.close();
      onSteer(id, direction, index);
    });
  }

  // "Similar series" and "Similar studies" of an image that has a series (study) key
  const groupActions = [
    { button: $('similar-series'), level: 'series', field: 'series_key' },
    { button: $('similar-studies'), level: 'study', field: 'study_key' },
  ];
  for (const { button, level } of groupActions) {
    button.addEventListener('click', () => {
      const group = button.dataset.group;
      if (!current || !group) return;
      const { index } = current;
      dialog.close();
      onFindSimilarGroup(level, group, index);
    });
  }

  image.addEventListener('load', () => figure.classList.remove('is-loading', 'is-broken'));
  image.addEventListener('error', () => {
    if (!image.getAttribute('src')) return;
    figure.classList.remove('is-loading');
    figure.classList.add('is-broken');
  });

  classifyForm.addEventListener('submit', (event) => {
    event.preventDefault();
    if (labelInput.value.trim()) {
      addLabels(labelInput.value);
      labelInput.value = '';
    }
    classify();
  });
  labelInput.addEventListener('keydown', (event) => {
    // Enter or a comma in the label box adds the label, like most tag inputs; Enter on an
    // empty box submits the form (classifies).
    if ((event.key === ',' || event.key === 'Enter') && labelInput.value.trim()) {
      event.preventDefault();
      addLabels(labelInput.value);
      labelInput.value = '';
    }
  });

  function ensureCandidates() {
    if (candidates !== null) return;
    const fromCorpus = suggestedLabels().slice(0, 4);
    candidates = fromCorpus.length >= 2 ? fromCorpus : GENERIC_LABELS.slice(0, 4);
  }

  /** Add comma-separated labels, ignoring duplicates (case-insensitive). */
  function addLabels(text) {
    ensureCandidates();
    const list = /** @type {string[]} */ (candidates);
    for (const raw of text.split(',')) {
      const label = raw.trim().replace(/\s+/g, ' ');
      if (label && !list.some((c) => c.toLowerCase() === label.toLowerCase())) list.push(label);
    }
    renderLabels();
  }

  function removeLabel(label) {
    candidates = (candidates ?? []).filter((c) => c !== label);
    renderLabels();
    labelInput.focus();
  }

  function renderLabels() {
    ensureCandidates();
    const list = /** @type {string[]} */ (candidates);
    clear(chips);
    for (const label of list) {
      chips.append(
        h(
          'li',
          { class: 'chip' },
          h('span', {}, label),
          h(
            'button',
            {
              type: 'button',
              class: 'chip-remove',
              'aria-label': `Remove label ${label}`,
              onclick: () => removeLabel(label),
            },
            h('span', { 'aria-hidden': 'true' }, '×'),
          ),
        ),
      );
    }
    const taken = new Set(list.map((c) => c.toLowerCase()));
    const offered = [...suggestedLabels(), ...GENERIC_LABELS]
      .filter((label, i, all) => all.indexOf(label) === i && !taken.has(label.toLowerCase()))
      .slice(0, 10);
    clear(suggestions);
    for (const label of offered) {
      suggestions.append(
        h(
          'li',
          {},
          h(
            'button',
            {
              type: 'button',
              class: 'chip chip-suggest',
              'aria-label': `Add label ${label}`,
              onclick: () => addLabels(label),
            },
            `+ ${label}`,
          ),
        ),
      );
    }
    $('label-suggestions-wrap').hidden = offered.length === 0;
    classifyButton.disabled = list.length === 0;
  }

  async function classify() {
    if (!current) return;
    ensureCandidates();
    const labels = /** @type {string[]} */ (candidates);
    classifyError.hidden = true;
    if (labels.length === 0) {
      showMessage(classifyError, 'Add at least one candidate label.');
      return;
    }
    // An empty template box leaves the template to the service's default.
    const template = templateInput.value.trim();
    if (template && !template.includes('{}')) {
      showMessage(classifyError, 'The prompt template must contain {} where the label goes.');
      return;
    }
    const { signal } = controller;
    const id = current.id;
    classifyButton.disabled = true;
    classifyButton.textContent = 'Classifying…';
    bars.setAttribute('aria-busy', 'true');
    try {
      const body = template ? { image_id: id, labels, template } : { image_id: id, labels };
      if (current.index !== undefined) body.index = current.index;
      const answer = await api.classify(body, signal);
      if (!current || current.id !== id) return;
      renderBars(Array.isArray(answer.labels) ? answer.labels : []);
    } catch (error) {
      if (isAbort(error)) return;
      clear(bars);
      showMessage(classifyError, error.message);
    } finally {
      if (!signal.aborted) {
        classifyButton.disabled = false;
        classifyButton.textContent = 'Classify';
        bars.setAttribute('aria-busy', 'false');
      }
    }
  }

  /** @param {{label: string, probability: number, score?: number}[]} items */
  function renderBars(items) {
    clear(bars);
    const sorted = [...items].sort((a, b) => (b.probability ?? 0) - (a.probability ?? 0));
    for (const item of sorted) {
      const probability = Math.min(1, Math.max(0, Number(item.probability) || 0));
      const percent = `${(probability * 100).toFixed(1)}%`;
      const fill = h('span', { class: 'bar-fill' });
      // Widths come from numbers, set through CSSOM (allowed by the page's CSP).
      fill.style.width = `${(probability * 100).toFixed(2)}%`;
      const scoreText =
        typeof item.score === 'number' ? `cosine similarity ${item.score.toFixed(3)}` : null;
      bars.append(
        h(
          'li',
          { class: 'bar-row', title: scoreText },
          h('span', { class: 'bar-label' }, String(item.label)),
          h('span', { class: 'bar-track', 'aria-hidden': 'true' }, fill),
          h('span', { class: 'bar-value' }, percent),
        ),
      );
    }
  }

  function showMessage(box, text) {
    box.textContent = text;
    box.hidden = false;
  }

  /** One row of a description list; skipped when the value is empty. */
  function row(list, name, value, { mono = false, link = false } = {}) {
    if (value === null || value === undefined || value === '') return;
    const text = String(value);
    list.append(
      h('dt', {}, name),
      h(
        'dd',
        { class: mono ? 'mono' : null, title: mono ? text : null },
        link ? linkify(text) : text,
      ),
    );
  }

  /** @param {any} record a search hit or the /api/images/<id> answer */
  function renderRecord(record) {
    const meta = record.metadata && typeof record.metadata === 'object' ? record.metadata : {};
    caption.textContent = record.caption || 'No caption.';
    caption.classList.toggle('muted', !record.caption);
    pathText.textContent = record.path ?? '';

    clear(metaList);
    if (typeof record.score === 'number') row(metaList, 'Score', record.score.toFixed(4));
    const keys = Object.keys(meta).filter((k) => !LICENCE_FIELDS.test(k) && !DERIVED_FIELDS.has(k));
    for (const key of firstFieldsFirst(keys)) row(metaList, fieldLabel(key), meta[key]);
    const { width, height } = meta;
    if (width && height) row(metaList, 'Dimensions', `${width} × ${height} px`);
    row(metaList, 'Format', meta.format);
    row(metaList, 'File size', formatBytes(record.size));
    if (typeof record.mtime === 'number') {
      row(metaList, 'Modified', new Date(record.mtime * 1000).toISOString().slice(0, 10));
    }
    row(metaList, 'SHA-256', record.sha256, { mono: true });
    row(metaList, 'Image id', record.id);

    clear(licenceList);
    for (const key of Object.keys(meta).filter((k) => LICENCE_FIELDS.test(k))) {
      row(licenceList, fieldLabel(key), meta[key], { link: true });
    }
    licenceBox.hidden = licenceList.childElementCount === 0;
  }

  /**
   * Show a result.
   * @param {any} hit a search result
   * @param {HTMLElement | null} from element to give focus back to on close
   */
  function open(hit, from) {
    controller.abort();
    controller = new AbortController();
    const { signal } = controller;
    const id = Number(hit.id);
    // A hit from the compare view names its index; others belong to the page's current one.
    current = { id, index: typeof hit.index === 'string' ? hit.index : undefined };
    opener = from;

    title.textContent = `Image #${id}`;
    detailError.hidden = true;
    classifyError.hidden = true;
    clear(bars);
    classifyButton.disabled = false;
    classifyButton.textContent = 'Classify';
    renderLabels();
    renderRecord(hit);
    const meta = hit.metadata && typeof hit.metadata === 'object' ? hit.metadata : {};
    for (const { button, field } of groupActions) {
      const key = meta[field];
      button.hidden = typeof key !== 'string' || !key;
      button.dataset.group = typeof key === 'string' ? key : '';
    }

    const src =
      safeUrl(hit.image_url) ?? safeUrl(`${apiBase}/images/${encodeURIComponent(id)}/file`);
    figure.classList.remove('is-broken');
    figure.classList.add('is-loading');
    image.alt = hit.caption ? `Image #${id}: ${hit.caption}` : `Image #${id}`;
    if (src) image.src = src;
    if (src) openOriginal.href = src;
    else openOriginal.removeAttribute('href');
    // a PACS image, when the service is set up with a viewer (MEDSEARCH_VIEWER_URL)
    const viewer = safeUrl(hit.viewer_url);
    openViewer.hidden = !viewer;
    if (viewer) openViewer.href = viewer;
    else openViewer.removeAttribute('href');

    if (!dialog.open) dialog.showModal();
    strip.show(hit, signal);

    // The search hit lacks file details (size, hash, dates); fetch the full record.
    api.image(id, signal, current.index).then(
      (record) => {
        if (current && current.id === id) renderRecord({ ...record, score: hit.score });
      },
      (error) => {
        if (!isAbort(error) && current && current.id === id)
          showMessage(detailError, error.message);
      },
    );
  }

  /**
   * Offer the service's default label template (the `default_template` of /api/info): it fills
   * the template box until the user writes their own, and stays as its placeholder.
   * @param {unknown} template
   */
  function useDefaultTemplate(template) {
    if (typeof template !== 'string' || !template) return;
    templateInput.placeholder = template;
    if (!templateInput.value) templateInput.value = template;
  }

  return { open, isOpen: () => dialog.open, useDefaultTemplate };
}
