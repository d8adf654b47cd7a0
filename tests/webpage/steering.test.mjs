/**
 * "More like this" and "Less like this" (web/static/lib/steering.js) and their place in the URL
 * (web/static/lib/urlstate.js), run by Node's own test runner: `node --test` from the repository
 * root.
 */

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import * as steering from '../../web/static/lib/steering.js';
import * as urlstate from '../../web/static/lib/urlstate.js';

const anyField = (field) => !urlstate.RESERVED.has(field);

function stateWith(changes) {
  return { ...urlstate.emptyState(), ...changes };
}

describe('steering a search', () => {
  test('more and less like add ids in order, and an id moves between the lists', () => {
    let search = stateWith({ q: 'lung' });
    search = { ...search, ...steering.steered(search, 12, 'like') };
    search = { ...search, ...steering.steered(search, 40, 'unlike') };
    search = { ...search, ...steering.steered(search, 7, 'like') };
    assert.deepEqual([search.like, search.unlike], [[12, 7], [40]]);
    search = { ...search, ...steering.steered(search, 40, 'like') };
    assert.deepEqual([search.like, search.unlike], [[12, 7, 40], []]);
    search = { ...search, ...steering.steered(search, 12, 'like') };
    assert.deepEqual(search.like, [7, 40, 12], 'liked again: moved last, not twice');
    assert.equal(search.q, 'lung');
    assert.ok(steering.isSteered(search));
  });

  test('removing a chip takes the id out of either list', () => {
    const search = stateWith({ q: 'lung', like: [1, 2], unlike: [3] });
    assert.deepEqual(steering.withoutSteer(search, 2), { like: [1], unlike: [3] });
    assert.deepEqual(steering.withoutSteer(search, 3), { like: [1, 2], unlike: [] });
    assert.equal(steering.isSteered({ like: [], unlike: [] }), false);
  });

  test('a similar-group query gives way to the steering', () => {
    const search = stateWith({ group: 'ab', level: 'series' });
    const changes = steering.steered(search, 5, 'like');
    assert.deepEqual(changes, { like: [5], unlike: [], group: null, level: null });
  });

  test('the parts: the query first (+1), liked +1, unliked -1', () => {
    const text = stateWith({ q: 'chest', like: [4], unlike: [9, 10] });
    assert.deepEqual(steering.queryParts(text, null), [
      { text: 'chest', weight: 1 },
      { image_id: 4, weight: 1 },
      { image_id: 9, weight: -1 },
      { image_id: 10, weight: -1 },
    ]);
    const similar = stateWith({ similar: 3, unlike: [8] });
    assert.deepEqual(steering.queryParts(similar, null), [
      { image_id: 3, weight: 1 },
      { image_id: 8, weight: -1 },
    ]);
    const image = stateWith({ image: new Blob(['x']), unlike: [8] });
    assert.deepEqual(steering.queryParts(image, 'eA=='), [
      { image: 'eA==', weight: 1 },
      { image_id: 8, weight: -1 },
    ]);
    assert.deepEqual(steering.queryParts(stateWith({ like: [2] }), null), [
      { image_id: 2, weight: 1 },
    ]);
  });

  test('a query image becomes base64', async () => {
    const bytes = new Uint8Array(70_000).map((_, i) => i % 251);
    const encoded = await steering.base64Of(new Blob([bytes]));
    assert.deepEqual(new Uint8Array(Buffer.from(encoded, 'base64')), bytes);
  });
});

describe('steering in the URL', () => {
  test('like and unlike ride along with the query and come back', () => {
    const state = stateWith({ q: 'chest x-ray', like: [12, 3], unlike: [40] });
    const url = urlstate.urlFromState(state);
    assert.equal(url, '?q=chest+x-ray&like=12&like=3&unlike=40');
    assert.deepEqual(urlstate.stateFromUrl(url, anyField), state);
    const similar = stateWith({ similar: 5, unlike: [6] });
    assert.deepEqual(urlstate.stateFromUrl(urlstate.urlFromState(similar), anyField), similar);
  });

  test('liked images alone are a query; unliked alone are not', () => {
    assert.ok(urlstate.hasQuery(urlstate.stateFromUrl('?like=2', anyField)));
    assert.equal(urlstate.hasBaseQuery(urlstate.stateFromUrl('?like=2', anyField)), false);
    assert.equal(urlstate.hasQuery(urlstate.stateFromUrl('?unlike=2', anyField)), false);
  });

  test('bad, repeated and contradicting ids are dropped; they are no filters', () => {
    const state = urlstate.stateFromUrl(
      '?q=a&like=1&like=x&like=1&like=-3&unlike=1&unlike=2&unlike=2.5',
      anyField,
    );
    assert.deepEqual([state.like, state.unlike], [[1], [2]]);
    assert.equal(state.filters.size, 0);
  });

  test('a similar-group URL is not steered', () => {
    const state = urlstate.stateFromUrl('?level=series&group=ab&like=3', anyField);
    assert.deepEqual([state.group, state.like], ['ab', []]);
  });

  test('a new query drops the steering', () => {
    const before = stateWith({ q: 'a', like: [1], unlike: [2] });
    const after = { ...before, ...urlstate.newQuery({ q: 'b' }) };
    assert.deepEqual([after.like, after.unlike], [[], []]);
    assert.equal(urlstate.urlFromState(after), '?q=b');
  });
});
