// The search mode in the URL and in the search request.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { searchParams } from '../../web/static/state.js';
import { emptyState, stateFromUrl, urlFromState } from '../../web/static/lib/urlstate.js';

const anyField = () => true;

test('a keyword or hybrid mode survives the URL; dense is the plain URL', () => {
  for (const mode of ['keyword', 'hybrid']) {
    const state = stateFromUrl(`?q=chest&mode=${mode}`, anyField);
    assert.equal(state.mode, mode);
    assert.equal(urlFromState(state), `?q=chest&mode=${mode}`);
    assert.equal(state.filters.size, 0, 'mode is no filter field');
  }
  assert.equal(stateFromUrl('?q=chest&mode=dense', anyField).mode, null);
  assert.equal(stateFromUrl('?q=chest&mode=<b>', anyField).mode, null);
  assert.equal(urlFromState({ ...emptyState(), q: 'chest' }), '?q=chest');
});

test('a keyword search sends no minimum score; hybrid and dense do', () => {
  const page = { k: 5, offset: 0 };
  const keyword = { ...emptyState(), q: 'chest', minScore: 0.3, mode: 'keyword' };
  assert.equal(searchParams(keyword, null, page).min_score, undefined);
  assert.equal(searchParams({ ...keyword, mode: 'hybrid' }, null, page).min_score, 0.3);
  assert.equal(searchParams({ ...keyword, mode: null }, null, page).min_score, 0.3);
});
