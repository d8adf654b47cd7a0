/**
 * One search result as a card in the results grid: thumbnail, rank, score, tags, caption and,
 * for a grouped result, its group's size.
 * The card is a button that opens the result panel.
 */

import { h, safeUrl } from '../lib/dom.js';
import { FIRST_FIELDS } from '../lib/fields.js';
import { groupSizeText } from '../lib/groups.js';
import { markedPieces } from '../lib/highlight.js';

/** A thumbnail stand-in for images the browser cannot show (DICOM queries, failed loads). */
export function placeholder(text) {
  return h('span', { class: 'placeholder' }, h('span', {}, text));
}

/**
 * An image that swaps itself for a placeholder when the browser cannot load it.
 * @param {Record<string, unknown>} props attributes of the <img>
 * @param {string} fallback placeholder text
 */
export function imageOrPlaceholder(props, fallback) {
  const img = h('img', props);
  img.addEventListener('error', () => img.replaceWith(placeholder(fallback)), { once: true });
  return img;
}

/**
 * What a grouped result says of its group: "140 slices · 12 matching".
 * @param {{field: string, value: unknown, size: number, matched: number}} group
 */
function groupLine(group) {
  const size = groupSizeText(group);
  return h(
    'span',
    { class: 'group-size', title: `${group.field}: ${group.value ?? '(none)'}` },
    `${size} · ${group.matched} matching`,
  );
}

/**
 * A caption with the words a keyword search matched marked.
 * @param {string} text
 * @param {unknown} terms the hit's `matched_terms`
 */
function captionWithMatches(text, terms) {
  return markedPieces(text, terms).map((piece) =>
    piece.matched ? h('mark', { class: 'match' }, piece.text) : piece.text,
  );
}

/**
 * "+2 copies": how many results were folded into this one (exact copies, near-duplicates).
 * @param {unknown} copies the hit's `copies`
 */
function copiesLine(copies) {
  if (!Array.isArray(copies) || copies.length === 0) return null;
  const ids = copies.map((copy) => `#${copy.id}`).join(', ');
  const n = copies.length;
  return h('span', { class: 'copies', title: ids }, `+${n} ${n === 1 ? 'copy' : 'copies'}`);
}

/**
 * A result card inside its list item.
 * @param {any} hit a search result from the API
 * @param {number} rank 1 for the best
 * @param {object} options
 * @param {string} options.apiBase URL prefix of the API, for the thumbnail when the hit has none
 * @param {(hit: any, card: HTMLElement) => void} options.onOpen called when the card is chosen
 * @returns {HTMLElement}
 */
export function resultCard(hit, rank, { apiBase, onOpen }) {
  const id = Number(hit.id);
  const meta = hit.metadata && typeof hit.metadata === 'object' ? hit.metadata : {};
  const tags = FIRST_FIELDS.map((field) => meta[field])
    .filter((v) => v !== null && v !== undefined && v !== '')
    .map(String)
    .filter((v, i, all) => all.indexOf(v) === i);
  const src =
    safeUrl(hit.thumbnail_url) ?? safeUrl(`${apiBase}/images/${encodeURIComponent(id)}/thumbnail`);
  const thumb = h(
    'span',
    { class: 'thumb' },
    src
      ? imageOrPlaceholder({ src, alt: '', loading: 'lazy', decoding: 'async' }, 'No preview')
      : placeholder('No preview'),
    // a rank, not an id: "1." cannot be read as image #1
    h('span', { class: 'rank', 'aria-hidden': 'true' }, `${rank}.`),
  );

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
        standing(hit),
        h(
          'span',
          { class: 'tags' },
          tags.map((tag) => h('span', { class: 'tag' }, tag)),
        ),
      ),
      h('span', { class: 'caption' }, captionWithMatches(text, hit.matched_terms)),
      Array.isArray(hit.matched_terms)
        ? h(
            'span',
            { class: 'matched-terms' },
            hit.matched_terms.length ? `Matched: ${hit.matched_terms.join(', ')}` : 'No word matched',
          )
        : null,
      hit.group ? groupLine(hit.group) : null,
      copiesLine(hit.copies),
    ),
  );
  card.addEventListener('click', () => onOpen(hit, card));
  return h('li', {}, card);
}

/**
 * A result's z against the scores unrelated queries get on the index (null for an index that
 * records none).
 * @param {any} hit
 */
function standing(hit) {
  const z = Number(hit.z);
  if (hit.z === null || hit.z === undefined || !Number.isFinite(z)) return null;
  const title = `z ${z.toFixed(2)}: higher than ${Number(hit.percentile).toFixed(1)}% of the top scores of unrelated queries`;
  return h('span', { class: 'z', title }, `z ${z.toFixed(1)}`);
}
