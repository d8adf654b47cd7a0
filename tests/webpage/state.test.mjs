/**
 * The search page's state and its pure steps (web/static/state.js), the first-fields order
 * (web/static/lib/fields.js) and the results status line (web/static/render/results.js), run
 * by Node's own test runner: `node --test` from the repository root.
 */

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { FIRST_FIELDS, firstFieldsFirst } from '../../web/static/lib/fields.js';
import { emptyState } from '../../web/static/lib/urlstate.js';
import { resultsStatus } from '../../web/static/render/results.js';
import * as state from '../../web/static/state.js';

const PAGE_SIZE = 24;

/** A /api/search answer with hits of the given ids, best first. */
function answer(ids, extra = {}) {
  return { results: ids.map((id, i) => ({ id, score: 1 - i / 100 })), ...extra };
}

/** ids 0..n-1 from `start`. */
const range = (start, n) => Array.from({ length: n }, (_, i) => start + i);

describe('the first fields', () => {
  test('come first in their order, the others alphabetically', () => {
    assert.deepEqual(FIRST_FIELDS, ['modality', 'body_part', 'label']);
    const fields = ['source', 'label', 'age', 'modality', 'zone'];
    assert.deepEqual(firstFieldsFirst(fields), ['modality', 'label', 'age', 'source', 'zone']);
    assert.deepEqual(firstFieldsFirst([]), []);
    // The list given is not changed.
    assert.deepEqual(fields, ['source', 'label', 'age', 'modality', 'zone']);
  });
});

describe('a new page', () => {
  test('asks nothing and shows nothing', () => {
    const page = state.createPage();
    assert.deepEqual(page.search, emptyState());
    assert.deepEqual(page.shown.hits, []);
    assert.equal(page.shown.answered, false);
    assert.ok(Number.isNaN(page.shown.ms));
    assert.equal(page.compared, null);
    assert.equal(page.facetValues, null);
    assert.deepEqual(page.indexes, []);
    assert.notEqual(state.createPage().images, page.images);
  });
});

describe('changing the search', () => {
  test('always runs the search, and loads the index facts only when the index changes', () => {
    const before = { ...emptyState(), q: 'lung' };
    const filtered = state.changeSearch(before, { filters: new Map([['modality', ['CT']]]) });
    // new filters count the filters' values again
    assert.deepEqual(filtered.effects, ['facetCounts', 'search']);
    assert.deepEqual(filtered.search.filters, new Map([['modality', ['CT']]]));
    assert.equal(filtered.search.q, 'lung');

    const moved = state.changeSearch(before, { index: 'second' });
    assert.deepEqual(moved.effects, ['indexFacts', 'search']);
    assert.equal(moved.search.index, 'second');
    // Naming the index already searched is no change of index.
    assert.deepEqual(state.changeSearch(moved.search, { index: 'second' }).effects, ['search']);
    assert.deepEqual(state.changeSearch(moved.search, { index: null }).effects, [
      'indexFacts',
      'search',
    ]);
  });

  test('does not change the search it is given', () => {
    const before = emptyState();
    state.changeSearch(before, { q: 'brain', index: 'b' });
    assert.deepEqual(before, emptyState());
  });
});

describe('the phases and the results they keep', () => {
  test('a running search and its answer keep the results, the others drop them', () => {
    for (const append of [false, true]) {
      assert.equal(state.keepsResults('loading', append), true);
      assert.equal(state.keepsResults('results', append), true);
      assert.equal(state.keepsResults('intro', append), false);
      assert.equal(state.keepsResults('signin', append), false);
    }
    // A failed "Load more" leaves the results so far; a failed new search shows none.
    assert.equal(state.keepsResults('error', true), true);
    assert.equal(state.keepsResults('error', false), false);
  });
});

describe('the served indexes', () => {
  const indexes = [{ name: 'first' }, { name: 'second' }, { name: 3 }];
  const names = state.indexNames(indexes);

  test('by name, the default first', () => {
    assert.deepEqual(names, ['first', 'second', '3']);
    assert.equal(state.searchedIndex({ index: null }, names), 'first');
    assert.equal(state.searchedIndex({ index: 'second' }, names), 'second');
    assert.equal(state.searchedIndex({ index: null }, []), null);
  });

  test('"find similar" stays in the index searched', () => {
    const search = { ...emptyState(), index: 'second', compare: 'first' };
    assert.deepEqual(state.similarIndexes(search, names, undefined), {});
    assert.deepEqual(state.similarIndexes(search, names, 'second'), {});
  });

  test('"find similar" on an image of the compared index swaps the two', () => {
    const search = { ...emptyState(), compare: 'second' };
    assert.deepEqual(state.similarIndexes(search, names, 'second'), {
      index: 'second',
      compare: 'first',
    });
    const back = { ...emptyState(), index: 'second', compare: 'first' };
    assert.deepEqual(state.similarIndexes(back, names, 'first'), {
      index: null,
      compare: 'second',
    });
  });
});

describe('search requests', () => {
  test('paging alone when nothing narrows the search', () => {
    assert.deepEqual(state.searchParams(emptyState(), null, { k: 24, offset: 48 }), {
      k: 24,
      offset: 48,
    });
  });

  test('filters with the facets\' types, and the minimum score', () => {
    const search = { ...emptyState(), filters: new Map([['slice', ['3', '4']]]), minScore: 0.4 };
    const facetValues = new Map([['slice', new Map([['3', 3]])]]);
    assert.deepEqual(state.searchParams(search, facetValues, { k: 12, offset: 0 }), {
      k: 12,
      offset: 0,
      filters: { slice: [3, '4'] },
      min_score: 0.4,
    });
  });
});

describe('cut-offs that adapt', () => {
  test('"strong matches only" asks for a minimum z', () => {
    const search = { ...emptyState(), q: 'lung', minZ: 2 };
    assert.deepEqual(state.searchParams(search, null, { k: 12, offset: 0 }), {
      k: 12,
      offset: 0,
      min_z: 2,
    });
  });

  test('an answer says how many results of its page the cut-off removed', () => {
    const cut = { results: [], total: 32, below_cut_off: 24 };
    const paging = { offset: 0, pageSize: 24 };
    assert.equal(state.withAnswer(state.nothingShown(), cut, paging).belowCutOff, 24);
    const plain = { results: [], total: 32 };
    assert.equal(state.withAnswer(state.nothingShown(), plain, paging).belowCutOff, 0);
  });
});

describe('near-duplicates hidden', () => {
  test('the index threshold is sent for image results only', () => {
    const search = { ...emptyState(), q: 'chest', dedupe: true };
    const page = { k: 12, offset: 0, dedupe: 0.97 };
    assert.deepEqual(state.searchParams(search, null, page), { k: 12, offset: 0, dedupe: 0.97 });
    const grouped = { ...search, collapse: 'series_key' };
    assert.equal(state.searchParams(grouped, null, page).dedupe, undefined);
    const shown = { ...search, dedupe: false };
    assert.equal(state.searchParams(shown, null, page).dedupe, undefined);
  });
});

describe('answers shown', () => {
  test('a first page: its hits, the total, and whether more can load', () => {
    const first = answer(range(0, PAGE_SIZE), { total: 32, timings_ms: { total: 7.4 } });
    const shown = state.withAnswer(state.nothingShown(), first, { offset: 0, pageSize: PAGE_SIZE });
    assert.deepEqual(
      shown.hits.map((hit) => hit.id),
      range(0, PAGE_SIZE),
    );
    assert.equal(shown.total, 32);
    assert.equal(shown.nextOffset, PAGE_SIZE);
    assert.equal(shown.hasMore, true);
    assert.equal(shown.answered, true);
    assert.equal(shown.ms, 7.4);
  });

  test('"Load more" appends the next page, keeping the hits shown, without repeats', () => {
    const paging = { pageSize: PAGE_SIZE };
    const first = state.withAnswer(state.nothingShown(), answer(range(0, 24), { total: 32 }), {
      offset: 0,
      ...paging,
    });
    // The next page repeats a hit already shown (the ranking moved between requests).
    const next = state.withAnswer(first, answer([23, ...range(24, 8)], { total: 32 }), {
      offset: 24,
      ...paging,
    });
    assert.deepEqual(
      next.hits.map((hit) => hit.id),
      range(0, 32),
    );
    assert.ok(first.hits.every((hit, i) => next.hits[i] === hit), 'the same hit objects first');
    assert.equal(first.hits.length, 24, 'the results given are not changed');
    assert.equal(next.hasMore, false);
    assert.equal(next.nextOffset, 48);
  });

  test('an empty or odd answer is an answered search with nothing in it', () => {
    for (const odd of [{}, { results: null, total: 'many' }, answer([])]) {
      const shown = state.withAnswer(state.nothingShown(), odd, { offset: 0, pageSize: 24 });
      assert.deepEqual(shown.hits, []);
      assert.equal(shown.total, 0);
      assert.equal(shown.hasMore, false);
      assert.equal(shown.answered, true);
      assert.ok(Number.isNaN(shown.ms));
    }
  });

  test('a full page with nothing past it has no more', () => {
    const exact = answer(range(0, 24), { total: 24 });
    const shown = state.withAnswer(state.nothingShown(), exact, { offset: 0, pageSize: 24 });
    assert.equal(shown.hasMore, false);
  });

  test('the compare view: one column per index, each hit naming its index', () => {
    const columns = state.comparedFrom(
      ['first', 'second'],
      [answer([4, 2], { total: 32 }), { results: 'nothing' }],
    );
    assert.deepEqual(columns, [
      {
        name: 'first',
        hits: [
          { id: 4, score: 1, index: 'first' },
          { id: 2, score: 0.99, index: 'first' },
        ],
        total: 32,
      },
      { name: 'second', hits: [], total: 0 },
    ]);
  });
});

describe('the results status', () => {
  const page = (changes) => ({
    search: emptyState(),
    shown: state.nothingShown(),
    compared: null,
    ...changes,
  });

  test('counts, the minimum score and the time', () => {
    const shown = state.withAnswer(
      state.nothingShown(),
      answer(range(0, 24), { total: 32, timings_ms: { total: 12.6 } }),
      { offset: 0, pageSize: 24 },
    );
    assert.equal(resultsStatus(page({ shown }), 12), 'Showing 24 of 32 images · 13 ms');
    const search = { ...emptyState(), minScore: 0.2 };
    assert.equal(
      resultsStatus(page({ shown, search }), 12),
      'Showing 24 scoring at least 0.20 of 32 images · 13 ms',
    );
  });

  test('one image, no time, no results', () => {
    const one = state.withAnswer(state.nothingShown(), answer([5], { total: 1 }), {
      offset: 0,
      pageSize: 24,
    });
    assert.equal(resultsStatus(page({ shown: one }), 12), 'Showing 1 of 1 image');
    const none = state.withAnswer(state.nothingShown(), answer([], { timings_ms: { total: 3 } }), {
      offset: 0,
      pageSize: 24,
    });
    assert.equal(resultsStatus(page({ shown: none }), 12), 'No results · 3 ms');
  });

  test('the compare view names both indexes', () => {
    const compared = state.comparedFrom(['a', 'b'], [answer([1]), answer([2])]);
    assert.equal(resultsStatus(page({ compared }), 12), 'Comparing a and b: their top 12 results');
  });
});

describe('the filters offered', () => {
  const many = (n) => range(0, n).map((i) => ({ value: `file-${i}.png`, count: 1 }));

  test('the first fields first, then the others alphabetically', () => {
    const offered = state.offeredFacets({
      site: [{ value: 'A', count: 3 }],
      label: [{ value: 'effusion', count: 2 }],
      age: [{ value: 40, count: 1 }],
      modality: [
        { value: 'CT', count: 5 },
        { value: 'MR', count: 2 },
      ],
    });
    assert.deepEqual(
      offered.map(({ field, primary }) => [field, primary]),
      [
        ['modality', true],
        ['label', true],
        ['age', false],
        ['site', false],
      ],
    );
    assert.deepEqual(offered[0].entries, [
      { value: 'CT', count: 5 },
      { value: 'MR', count: 2 },
    ]);
  });

  test('empty values are no filter, and a field left without values goes', () => {
    const offered = state.offeredFacets({
      modality: [
        { value: '', count: 4 },
        { value: null, count: 1 },
        { value: 'CT', count: 2 },
      ],
      body_part: [{ value: '', count: 9 }],
      notes: 'not a list',
    });
    assert.deepEqual(offered, [
      { field: 'modality', entries: [{ value: 'CT', count: 2 }], primary: true },
    ]);
  });

  test('a field of many values that all differ is left out, unless it is a first field', () => {
    const offered = state.offeredFacets({ path: many(21), file: many(20), label: many(30) });
    assert.deepEqual(
      offered.map(({ field }) => field),
      ['label', 'file'],
    );
  });

  test('the values as the API sent them, by their text', () => {
    const offered = state.offeredFacets({
      slice: [
        { value: 3, count: 2 },
        { value: 4, count: 1 },
      ],
      contrast: [{ value: true, count: 5 }],
    });
    assert.deepEqual(
      state.facetValuesOf(offered),
      new Map([
        ['contrast', new Map([['true', true]])],
        [
          'slice',
          new Map([
            ['3', 3],
            ['4', 4],
          ]),
        ],
      ]),
    );
    assert.deepEqual(state.facetValuesOf([]), new Map());
  });
});
