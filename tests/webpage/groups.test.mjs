/**
 * Grouped results on the search page: the fields the "Group by" picker offers, the words for a
 * group's size (web/static/lib/groups.js), the grouping in the URL and in a search request, and
 * the status line of grouped results. Run by `node --test` from the repository root.
 */

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import {
  bestMatches,
  groupCountText,
  groupFields,
  groupSizeText,
} from '../../web/static/lib/groups.js';
import { emptyState, stateFromUrl, urlFromState } from '../../web/static/lib/urlstate.js';
import { resultsStatus } from '../../web/static/render/results.js';
import { searchParams } from '../../web/static/state.js';

const entries = (...counts) => counts.map((count, i) => ({ value: `v${i}`, count }));

describe('the Group by picker', () => {
  test("offers the index's group fields when /api/info names them", () => {
    const info = { group_fields: ['series_key', 'study_key'] };
    assert.deepEqual(groupFields(info, { series: entries(3, 2) }), ['series_key', 'study_key']);
  });

  test('else offers the text fields some value repeats in', () => {
    const facets = {
      study: entries(140, 54),
      series: entries(28, 1),
      path: entries(1, 1, 1),
      instance_number: [{ value: 1, count: 4 }],
      empty: [],
    };
    assert.deepEqual(groupFields({}, facets), ['series', 'study']);
    assert.deepEqual(groupFields(null, null), []);
  });
});

describe('a group', () => {
  test('counts slices of a series or study, images of any other group', () => {
    assert.equal(groupSizeText({ field: 'series_key', size: 140 }), '140 slices');
    assert.equal(groupSizeText({ field: 'study_key', size: 1 }), '1 slice');
    assert.equal(groupSizeText({ field: 'case', size: 12 }), '12 images');
    assert.equal(groupSizeText({ field: 'case', size: 1 }), '1 image');
  });

  test('names its best matches: its own image, then its next best', () => {
    const hit = { id: 7, group: { next: [{ id: 9, score: 0.5 }, { id: 3, score: 0.4 }] } };
    assert.deepEqual(bestMatches(hit), [7, 9, 3]);
    assert.deepEqual(bestMatches({ id: 7, group: { next: [] } }), [7]);
  });

  test('results are counted as series, studies or groups of a field', () => {
    assert.equal(groupCountText('series_key', 4), '4 series');
    assert.equal(groupCountText('study_key', 1), '1 study');
    assert.equal(groupCountText('study_key', 3), '3 studies');
    assert.equal(groupCountText('series', 4), '4 groups by series');
  });
});

describe('grouping in the URL and the request', () => {
  test('collapse=FIELD round-trips through the address bar', () => {
    const state = stateFromUrl('?q=head&collapse=series', () => true);
    assert.equal(state.collapse, 'series');
    assert.equal(state.filters.size, 0); // a reserved parameter, never a filter
    assert.equal(urlFromState(state), '?q=head&collapse=series');
    assert.equal(stateFromUrl('?q=head', () => true).collapse, null);
    assert.equal(stateFromUrl('?q=head&collapse=', () => true).collapse, null);
  });

  test('a grouped search asks the API to collapse on the field', () => {
    const search = { ...emptyState(), q: 'head', collapse: 'series' };
    assert.deepEqual(searchParams(search, null, { k: 24, offset: 0 }), {
      k: 24,
      offset: 0,
      collapse: 'series',
    });
    const plain = searchParams({ ...emptyState(), q: 'head' }, null, { k: 24, offset: 0 });
    assert.equal('collapse' in plain, false);
  });

  test('a similar-series search leaves the grouping out: its results are groups already', () => {
    const search = { ...emptyState(), group: 'ab12', level: 'series', collapse: 'series_key' };
    assert.equal('collapse' in searchParams(search, null, { k: 24, offset: 0 }), false);
  });

  test('the status line counts groups', () => {
    const shown = { hits: [{ id: 1 }, { id: 2 }], total: 4, ms: Number.NaN };
    const search = { ...emptyState(), q: 'head', collapse: 'series' };
    assert.equal(resultsStatus({ search, shown, compared: null }, 12), 'Showing 2 of 4 groups by series');
    const plain = { ...emptyState(), q: 'head' };
    assert.equal(resultsStatus({ search: plain, shown, compared: null }, 12), 'Showing 2 of 4 images');
  });
});
