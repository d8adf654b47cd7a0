/**
 * The chip under the search box that names a query the box cannot show: the query image (with a
 * preview) or the image a "find similar" search started from.
 */

import { withIndex } from '../lib/api.js';
import { clear, formatBytes, h, safeUrl } from '../lib/dom.js';
import { imageOrPlaceholder, placeholder } from './cards.js';

/**
 * @param {object} deps
 * @param {ReturnType<import('../lib/api.js').createApi>} deps.api
 * @param {string} deps.apiBase
 */
export function createQueryChip({ api, apiBase }) {
  const $ = (id) => /** @type {HTMLElement} */ (document.getElementById(id));
  const chip = $('query-chip');
  const media = $('query-chip-media');
  const text = $('query-chip-text');

  /** Object URL of the query image preview and its image, revoked when replaced. */
  let preview = { image: /** @type {Blob | null} */ (null), url: '' };
  /** The query shown, so late work for an older one (caption, magic bytes) is dropped. */
  /** @type {{image: Blob | null, similar: number | null}} */
  let shown = { image: null, similar: null };

  function revokePreview() {
    if (preview.url) URL.revokeObjectURL(preview.url);
    preview = { image: null, url: '' };
  }

  /**
   * Show the chip for a search state (hidden for a text query or none).
   * @param {import('../lib/urlstate.js').SearchState} state
   */
  function show(state) {
    shown = { image: state.image, similar: state.similar };
    if (preview.image !== state.image) revokePreview();
    clear(media);
    if (state.image) {
      const file = state.image;
      const name = file instanceof File && file.name ? file.name : 'pasted image';
      chip.dataset.kind = 'image';
      text.replaceChildren(
        h('span', { class: 'muted' }, 'Images like '),
        h('strong', {}, name),
        h('span', { class: 'muted' }, ` · ${formatBytes(file.size)}`),
      );
      showPreview(file, name);
    } else if (state.similar !== null) {
      const id = state.similar;
      chip.dataset.kind = 'similar';
      const thumbnail = `${apiBase}/images/${encodeURIComponent(id)}/thumbnail`;
      const src = safeUrl(withIndex(thumbnail, state.index));
      if (src) media.append(imageOrPlaceholder({ src, alt: '' }, 'Image'));
      // Named by its file, never as "#id": the result cards carry ranks, not ids.
      const name = h('strong', {}, 'this image');
      const caption = h('span', { class: 'muted' }, '');
      text.replaceChildren(h('span', { class: 'muted' }, 'Images similar to '), name, caption);
      // Best effort: the file name and caption come with the image's record.
      api.image(id).then(
        (record) => {
          if (shown.similar !== id) return;
          name.textContent = fileName(record.path) || `image ${id}`;
          if (record.caption) caption.textContent = ` — ${record.caption}`;
        },
        () => {
          if (shown.similar === id) name.textContent = `image ${id}`;
        },
      );
    } else if (state.group !== null) {
      chip.dataset.kind = 'group';
      const what = state.level === 'study' ? 'Studies' : 'Series';
      text.replaceChildren(
        h('span', { class: 'muted' }, `${what} similar to ${state.level} `),
        h('strong', {}, state.group),
      );
    } else {
      delete chip.dataset.kind;
    }
    chip.hidden = !state.image && state.similar === null && state.group === null;
  }

  /** Show the query image, or its name on a placeholder when the browser cannot decode it. */
  async function showPreview(file, name) {
    const dicom = await looksLikeDicom(file);
    if (shown.image !== file) return; // replaced while the magic bytes were read
    if (dicom) {
      media.replaceChildren(placeholder('DICOM'));
      return;
    }
    if (preview.image !== file) {
      revokePreview();
      preview = { image: file, url: URL.createObjectURL(file) };
    }
    const alt = `Query image ${name}`;
    media.replaceChildren(imageOrPlaceholder({ src: preview.url, alt }, 'No preview'));
  }

  return { show };
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

/** The last part of an indexed path ('' for none). */
function fileName(path) {
  return String(path ?? '').split(/[\\/]/).filter(Boolean).pop() ?? '';
}
