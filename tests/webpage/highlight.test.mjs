// The matched words of a keyword result, found in its caption as the index folds words.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { foldWord, markedPieces } from '../../web/static/lib/highlight.js';

test('words are folded as FTS5 unicode61 with remove_diacritics folds them', () => {
  assert.equal(foldWord('Pneumonía'), 'pneumonia');
  assert.equal(foldWord('ÖDEM'), 'odem');
});

test('matched words are marked wherever they stand, in any case or accent', () => {
  const pieces = markedPieces('Chest X-ray; pneumonía, CHEST.', ['chest', 'pneumonia']);
  assert.deepEqual(pieces, [
    { text: 'Chest', matched: true },
    { text: ' X-ray; ', matched: false },
    { text: 'pneumonía', matched: true },
    { text: ', ', matched: false },
    { text: 'CHEST', matched: true },
    { text: '.', matched: false },
  ]);
  assert.equal(pieces.map((p) => p.text).join(''), 'Chest X-ray; pneumonía, CHEST.');
});

test('without matched words the caption is one unmarked piece', () => {
  assert.deepEqual(markedPieces('a chest', undefined), [{ text: 'a chest', matched: false }]);
  assert.deepEqual(markedPieces('a chest', []), [{ text: 'a chest', matched: false }]);
  assert.deepEqual(markedPieces('chestx', ['chest']), [{ text: 'chestx', matched: false }]);
});
