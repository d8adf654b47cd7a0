/**
 * The group of a collapsed result in the result panel: its images in slice order (from
 * /api/groups) as a strip with a slider, the slice under the slider shown, and the result's best
 * matches marked on the track and named in the slider's spoken value. A study lists its series
 * (counted by /api/facets under the study's key); choosing one shows that series' strip.
 */

import { isAbort } from '../lib/api.js';
import { clear, h, safeUrl } from '../lib/dom.js';
import { bestMatches, groupSizeText } from '../lib/groups.js';

/** Thumbnail size of the slice shown under the slider. */
const SLICE_SIZE = 256;

/**
 * @param {object} deps
 * @param {ReturnType<import('../lib/api.js').createApi>} deps.api
 * @param {string} deps.apiBase
 */
export function createGroupStrip({ api, apiBase }) {
  const $ = (id) => /** @type {HTMLElement} */ (document.getElementById(id));
  const section = $('detail-group');
  const title = $('group-title');
  const summary = $('group-summary');
  const slice = /** @type {HTMLImageElement} */ ($('group-slice'));
  const slider = /** @type {HTMLInputElement} */ ($('group-slider'));
  const marks = $('group-marks');
  const position = /** @type {HTMLOutputElement} */ ($('group-position'));
  const seriesBlock = $('group-series');
  const seriesList = $('group-series-list');

  /** The group's image ids in slice order, the best matches, and the index they belong to. */
  let shown = { ids: /** @type {number[]} */ ([]), best: new Set(), index: undefined };

  slider.addEventListener('input', () => showSlice(Number(slider.value) - 1));

  /** Show the slice at `at` (0-based) of the group. */
  function showSlice(at) {
    const id = shown.ids[at];
    if (id === undefined) return;
    const match = shown.best.has(id);
    const where = `Slice ${at + 1} of ${shown.ids.length}`;
    const text = match ? `${where} · best match (image #${id})` : `${where} (image #${id})`;
    position.textContent = text;
    slider.setAttribute('aria-valuetext', text);
    slice.alt = text;
    slice.classList.toggle('is-match', match);
    const query = new URLSearchParams({ size: String(SLICE_SIZE) });
    if (shown.index !== undefined) query.set('index', shown.index);
    const src = safeUrl(`${apiBase}/images/${encodeURIComponent(id)}/thumbnail?${query}`);
    if (src) slice.src = src;
  }

  /** Mark the best matches on the track, where the slider's thumb stands over them. */
  function drawMarks() {
    clear(marks);
    const last = Math.max(1, shown.ids.length - 1);
    shown.ids.forEach((id, at) => {
      if (!shown.best.has(id)) return;
      const mark = h('span', { class: 'group-mark', dataset: { id: String(id) } });
      mark.style.left = `${((at / last) * 100).toFixed(3)}%`;
      marks.append(mark);
    });
  }

  /**
   * Put a group's images on the strip, the slider at `focus` (or the first image).
   * @param {any} listing a /api/groups answer
   * @param {Set<number>} best ids to mark
   * @param {string | undefined} index
   * @param {number} focus
   */
  function load(listing, best, index, focus) {
    const ids = (Array.isArray(listing.images) ? listing.images : []).map((i) => Number(i.id));
    shown = { ids, best, index };
    slider.max = String(Math.max(1, ids.length));
    const at = Math.max(0, ids.indexOf(focus));
    slider.value = String(at + 1);
    drawMarks();
    showSlice(at);
  }

  /**
   * The series of a study, each a button that shows its strip; hidden for other groups.
   * @param {any} hit a result whose group is a study
   * @param {AbortSignal} signal
   */
  async function listSeries(hit, signal) {
    clear(seriesList);
    seriesBlock.hidden = true;
    if (hit.group.field !== 'study_key') return;
    const index = typeof hit.index === 'string' ? hit.index : undefined;
    const answer = await api.facets({ study_key: [hit.group.value] }, signal, index);
    const counted = Array.isArray(answer?.facets?.series_key) ? answer.facets.series_key : [];
    if (signal.aborted || counted.length === 0) return;
    const best = new Set(bestMatches(hit));
    for (const { value, count } of counted) {
      const button = h(
        'button',
        { type: 'button', class: 'link-button', dataset: { series: String(value) } },
        `${groupSizeText({ field: 'series_key', size: Number(count) })} · series ${value}`,
      );
      button.addEventListener('click', async () => {
        const listing = await api.group('series_key', String(value), signal, index);
        if (signal.aborted) return;
        title.textContent = `series_key: ${value}`;
        load(listing, best, index, Number(hit.id));
      });
      seriesList.append(h('li', {}, button));
    }
    seriesBlock.hidden = false;
  }

  /**
   * Show the group of a collapsed result, or hide the strip for any other result.
   * @param {any} hit a search result
   * @param {AbortSignal} signal aborted when the panel shows something else
   * @returns {Promise<void>}
   */
  async function show(hit, signal) {
    const group = hit?.group;
    section.hidden = true;
    if (!group || group.value === null || group.value === undefined) return;
    const index = typeof hit.index === 'string' ? hit.index : undefined;
    title.textContent = `${group.field}: ${group.value}`;
    try {
      const listing = await api.group(group.field, String(group.value), signal, index);
      if (signal.aborted) return;
      load(listing, new Set(bestMatches(hit)), index, Number(hit.id));
      await listSeries(hit, signal);
    } catch (error) {
      if (!isAbort(error)) console.warn('group unavailable:', error?.message);
      return;
    }
    const size = groupSizeText({ field: group.field, size: shown.ids.length });
    summary.textContent = `${size} · ${group.matched} matching · best matches marked`;
    section.hidden = false;
  }

  return { show };
}
