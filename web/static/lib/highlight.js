/**
 * The words of a keyword search's matches, marked in a caption.
 *
 * The API lists, on each keyword or hybrid result, the query's words its image holds
 * (`matched_terms`), folded as the index folds words (SQLite FTS5's unicode61 tokenizer with
 * diacritics removed): lower case, accents off. A caption's words are folded the same way to
 * find them.
 */

/** A word as the index cuts them: letters, digits and private-use characters. */
const WORD = /[\p{L}\p{N}\p{Co}]+/gu;

/**
 * A word folded as the index folds it.
 * @param {string} word
 */
export function foldWord(word) {
  return word.normalize('NFD').replace(/\p{M}/gu, '').toLowerCase();
}

/**
 * The caption cut into pieces, each marked when it is a matched word.
 * @param {string} text
 * @param {unknown} terms the hit's `matched_terms` (anything else marks nothing)
 * @returns {{text: string, matched: boolean}[]}
 */
export function markedPieces(text, terms) {
  const wanted = new Set(Array.isArray(terms) ? terms.map((t) => foldWord(String(t))) : []);
  if (wanted.size === 0) return [{ text, matched: false }];
  /** @type {{text: string, matched: boolean}[]} */
  const pieces = [];
  let last = 0;
  for (const found of text.matchAll(WORD)) {
    const start = found.index ?? 0;
    if (!wanted.has(foldWord(found[0]))) continue;
    if (start > last) pieces.push({ text: text.slice(last, start), matched: false });
    pieces.push({ text: found[0], matched: true });
    last = start + found[0].length;
  }
  if (last < text.length) pieces.push({ text: text.slice(last), matched: false });
  return pieces;
}
