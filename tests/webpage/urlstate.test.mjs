/**
 * The search page's state and URL module (web/static/lib/urlstate.js), run by Node's own test
 * runner: `node --test` from the repository root.
 */

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import * as urlstate from '../../web/static/lib/urlstate.js';

/** Every parameter that is not reserved is a filter field (the page's rule before facets load). */
const anyField = (field) => !urlstate.RESERVED.has(field);

/** @returns {import('../../web/static/lib/urlstate.js').SearchState} */
function stateWith(changes) {
  return { ...urlstate.emptyState(), ...changes };
}

function roundTrip(state) {
  return urlstate.stateFromUrl(urlstate.urlFromState(state), anyField);
}

describe('empty state', () => {
  test('has no query and no URL', () => {
    const state = urlstate.emptyState();
    const { q, filters, dedupe, like, unlike, ...others } = state;
    assert.equal(q, '');
    assert.deepEqual(filters, new Map());
    assert.equal(dedupe, false);
    assert.deepEqual([like, unlike], [[], []]);
    assert.deepEqual(Object.keys(others), [
      'similar',
      'image',
      'minScore',
      'minZ',
      'index',
      'compare',
      'collapse',
      'group',
      'level',
      'mode',
    ]);
    assert.ok(Object.values(others).every((value) => value === null));
    assert.equal(urlstate.hasQuery(state), false);
    assert.equal(urlstate.urlFromState(state), '');
  });

  test('is a new object each time', () => {
    const first = urlstate.emptyState();
    first.filters.set('modality', ['CT']);
    assert.equal(urlstate.emptyState().filters.size, 0);
  });

  test('comes back from an empty or unrelated query string', () => {
    assert.deepEqual(urlstate.stateFromUrl('', anyField), urlstate.emptyState());
    assert.deepEqual(urlstate.stateFromUrl('?utm=x', () => false), urlstate.emptyState());
  });
});

describe('round trips through the URL', () => {
  test('"strong matches only" is a minimum z, kept in the URL', () => {
    const state = stateWith({ q: 'lung', minZ: urlstate.STRONG_MATCH_Z });
    const url = urlstate.urlFromState(state);
    assert.equal(url, `?q=lung&min_z=${urlstate.STRONG_MATCH_Z}`);
    assert.deepEqual(urlstate.stateFromUrl(url, anyField), state);
    assert.equal(urlstate.stateFromUrl('?q=lung&min_z=-1.5', anyField).minZ, -1.5);
    assert.equal(urlstate.stateFromUrl('?q=lung&min_z=strong', anyField).minZ, null);
    assert.ok(!anyField('min_z'));
  });

  test('a "similar series" query, and a level only with a group', () => {
    const state = stateWith({ group: 'a1b2', level: 'series' });
    const url = urlstate.urlFromState(state);
    assert.equal(url, '?level=series&group=a1b2');
    assert.deepEqual(urlstate.stateFromUrl(url, anyField), state);
    assert.equal(urlstate.hasQuery(state), true);
    assert.equal(urlstate.stateFromUrl('?level=volume&group=a1b2', anyField).group, null);
    assert.equal(urlstate.stateFromUrl('?q=lung&level=study&group=a1b2', anyField).group, null);
  });

  test('a text query with filters and a minimum score', () => {
    const state = stateWith({
      q: 'chest x-ray',
      filters: new Map([
        ['modality', ['CT', 'MR']],
        ['body_part', ['chest']],
      ]),
      minScore: 0.2,
    });
    const url = urlstate.urlFromState(state);
    assert.equal(url, '?q=chest+x-ray&modality=CT&modality=MR&body_part=chest&min_score=0.2');
    assert.deepEqual(urlstate.stateFromUrl(url, anyField), state);
  });

  test('a "similar to" query', () => {
    const state = stateWith({ similar: 12 });
    assert.equal(urlstate.urlFromState(state), '?similar=12');
    assert.deepEqual(roundTrip(state), state);
    assert.deepEqual(roundTrip(stateWith({ similar: 0 })), stateWith({ similar: 0 }));
  });

  test('text and values with URL syntax in them come back unchanged', () => {
    const state = stateWith({
      q: 'a&b=c #1 + 50% ?/ ünïcode 肺',
      filters: new Map([
        ['label', ['x&modality=CT', 'tumour #2', '100%']],
        ['site name', ['A+B']],
      ]),
    });
    const url = urlstate.urlFromState(state);
    // The text is one parameter: its '&' and '=' do not start new ones.
    const params = new URLSearchParams(url);
    assert.deepEqual([...params.keys()], ['q', 'label', 'label', 'label', 'site name']);
    assert.equal(params.get('q'), state.q);
    assert.deepEqual(roundTrip(state), state);
  });

  test('a filter value that looks like a reserved parameter stays a value', () => {
    const state = stateWith({ q: 'x', filters: new Map([['label', ['q', 'min_score']]]) });
    assert.deepEqual(roundTrip(state), state);
  });
});

describe('reading a URL', () => {
  test('trims the text query', () => {
    assert.equal(urlstate.stateFromUrl('?q=++brain+MRI++', anyField).q, 'brain MRI');
    assert.equal(urlstate.hasQuery(urlstate.stateFromUrl('?q=+++', anyField)), false);
  });

  test('text wins over "similar" when a URL has both', () => {
    const state = urlstate.stateFromUrl('?similar=3&q=lung', anyField);
    assert.equal(state.q, 'lung');
    assert.equal(state.similar, null);
  });

  test('refuses image ids that are not whole numbers from 0 up', () => {
    for (const bad of ['-1', 'abc', '', 'NaN']) {
      assert.equal(urlstate.stateFromUrl(`?similar=${bad}`, anyField).similar, null, bad);
    }
  });

  test('keeps a minimum score only in (0, 1]', () => {
    const read = (value) => urlstate.stateFromUrl(`?q=x&min_score=${value}`, anyField).minScore;
    assert.equal(read('0.25'), 0.25);
    assert.equal(read('1'), 1);
    for (const bad of ['0', '-0.2', '1.5', 'abc', '', 'Infinity']) {
      assert.equal(read(bad), null, bad);
    }
  });

  test('a repeated field is an any-of list, in URL order, without repeats', () => {
    const state = urlstate.stateFromUrl('?q=x&modality=MR&modality=CT&modality=MR', anyField);
    assert.deepEqual(state.filters, new Map([['modality', ['MR', 'CT']]]));
  });

  test('only fields the page knows are filters, and reserved names never are', () => {
    const known = new Set(['modality', 'q', 'similar', 'min_score']);
    const state = urlstate.stateFromUrl('?q=x&modality=CT&utm_source=mail', (f) => known.has(f));
    assert.deepEqual(state.filters, new Map([['modality', ['CT']]]));
  });
});

describe('writing a URL', () => {
  test('text wins over "similar"', () => {
    assert.equal(urlstate.urlFromState(stateWith({ q: 'lung', similar: 4 })), '?q=lung');
  });

  test('a query image never goes into the URL, but is a query', () => {
    const image = new Blob([new Uint8Array([1, 2, 3])], { type: 'image/png' });
    const state = stateWith({ image, filters: new Map([['modality', ['CT']]]) });
    assert.equal(urlstate.urlFromState(state), '?modality=CT');
    assert.equal(urlstate.hasQuery(state), true);
  });

  test('filters and a minimum score alone are kept but are no query', () => {
    const state = stateWith({ filters: new Map([['modality', ['CT']]]), minScore: 0.5 });
    assert.equal(urlstate.urlFromState(state), '?modality=CT&min_score=0.5');
    assert.equal(urlstate.hasQuery(state), false);
  });
});

describe('state changes', () => {
  test('a new query of one kind drops the others and keeps filters', () => {
    assert.deepEqual(urlstate.newQuery(), {
      q: '',
      similar: null,
      image: null,
      group: null,
      level: null,
      like: [],
      unlike: [],
    });
    const filters = new Map([['modality', ['CT']]]);
    const before = stateWith({ q: 'lung', filters, minScore: 0.3 });
    const after = { ...before, ...urlstate.newQuery({ similar: 7 }) };
    assert.deepEqual(after, stateWith({ similar: 7, filters, minScore: 0.3 }));
    assert.equal(urlstate.urlFromState(after), '?similar=7&modality=CT&min_score=0.3');
  });

  test('selecting and unselecting filter values', () => {
    const none = new Map();
    const one = urlstate.withFilter(none, 'modality', 'CT', true);
    const two = urlstate.withFilter(one, 'modality', 'MR', true);
    assert.deepEqual(two, new Map([['modality', ['CT', 'MR']]]));
    // Picking a value again moves it last, as if it had just been picked.
    const again = urlstate.withFilter(two, 'modality', 'CT', true);
    assert.deepEqual(again, new Map([['modality', ['MR', 'CT']]]));
    const dropped = urlstate.withFilter(two, 'modality', 'CT', false);
    assert.deepEqual(dropped, new Map([['modality', ['MR']]]));
    // The last value going takes its field with it (no empty `field=` in the URL).
    assert.deepEqual(urlstate.withFilter(one, 'modality', 'CT', false), new Map());
    assert.deepEqual(urlstate.withFilter(none, 'label', 'x', false), new Map());
    // The maps given are not changed.
    assert.deepEqual(none, new Map());
    assert.deepEqual(one, new Map([['modality', ['CT']]]));
  });
});

describe('filters for the API', () => {
  test('nothing selected sends no filters', () => {
    assert.equal(urlstate.requestFilters(new Map(), null), undefined);
  });

  test('one value alone, several as a list', () => {
    const filters = new Map([
      ['modality', ['CT']],
      ['label', ['a', 'b']],
    ]);
    assert.deepEqual(urlstate.requestFilters(filters, null), { modality: 'CT', label: ['a', 'b'] });
  });

  test('values keep the type the facets gave them', () => {
    const facetValues = new Map([
      [
        'slice',
        new Map([
          ['3', 3],
          ['4', 4],
        ]),
      ],
      ['contrast', new Map([['true', true]])],
    ]);
    const filters = new Map([
      ['slice', ['3', '4', '5']],
      ['contrast', ['true']],
      ['modality', ['CT']],
    ]);
    assert.deepEqual(urlstate.requestFilters(filters, facetValues), {
      slice: [3, 4, '5'],
      contrast: true,
      modality: 'CT',
    });
  });
});

describe('the index picker and the compare view', () => {
  test('index and compare round-trip after the query and filters', () => {
    const state = stateWith({
      q: 'head CT',
      filters: new Map([['modality', ['CT']]]),
      index: 'ct-index',
      compare: 'xray.v2',
    });
    const url = urlstate.urlFromState(state);
    assert.equal(url, '?q=head+CT&modality=CT&index=ct-index&compare=xray.v2');
    assert.deepEqual(roundTrip(state), state);
  });

  test('index and compare are never taken for filter fields', () => {
    const state = urlstate.stateFromUrl('?similar=3&index=b&compare=a', anyField);
    assert.equal(state.filters.size, 0);
    assert.equal(state.similar, 3);
    assert.equal(state.index, 'b');
    assert.equal(state.compare, 'a');
  });

  test('an empty index or compare counts as none', () => {
    const state = urlstate.stateFromUrl('?q=x&index=&compare=', anyField);
    assert.equal(state.index, null);
    assert.equal(state.compare, null);
    assert.equal(urlstate.urlFromState(state), '?q=x');
  });

  test('a new query keeps the chosen indexes', () => {
    const state = stateWith({ q: 'a', index: 'b', compare: 'a' });
    const next = { ...state, ...urlstate.newQuery({ similar: 4 }) };
    assert.equal(next.index, 'b');
    assert.equal(next.compare, 'a');
  });

  test('known indexes: the default is written as none, unknown names are dropped', () => {
    const names = ['a', 'b', 'c'];
    assert.deepEqual(urlstate.knownIndexes({ index: 'b', compare: 'c' }, names), {
      index: 'b',
      compare: 'c',
    });
    assert.deepEqual(urlstate.knownIndexes({ index: 'a', compare: 'b' }, names), {
      index: null,
      compare: 'b',
    });
    assert.deepEqual(urlstate.knownIndexes({ index: 'zzz', compare: 'zzz' }, names), {
      index: null,
      compare: null,
    });
  });

  test('known indexes: a comparison needs a second index', () => {
    assert.deepEqual(urlstate.knownIndexes({ index: 'b', compare: 'b' }, ['a', 'b']), {
      index: 'b',
      compare: null,
    });
    assert.deepEqual(urlstate.knownIndexes({ index: null, compare: 'a' }, ['a', 'b']), {
      index: null,
      compare: null,
    });
    assert.deepEqual(urlstate.knownIndexes({ index: null, compare: 'a' }, ['a']), {
      index: null,
      compare: null,
    });
  });
});

describe('hidden near-duplicates', () => {
  test('kept in the URL as dedupe=1, and only then', () => {
    const state = { ...urlstate.emptyState(), q: 'chest', dedupe: true };
    assert.equal(urlstate.urlFromState(state), '?q=chest&dedupe=1');
    assert.equal(urlstate.stateFromUrl('?q=chest&dedupe=1', anyField).dedupe, true);
    assert.equal(urlstate.stateFromUrl('?q=chest&dedupe=0', anyField).dedupe, false);
    assert.equal(urlstate.urlFromState({ ...state, dedupe: false }), '?q=chest');
  });
});
