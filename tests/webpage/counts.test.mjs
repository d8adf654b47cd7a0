/**
 * What the page says must be true: filter counts under the filters chosen and the score cut-off,
 * the values an empty answer suggests (web/static/state.js, render/results.js),
 * the model the index was built with and how it runs (web/static/lib/models.js) and the sentence of a failed
 * image search (web/static/render/results.js). Run by `node --test`.
 */

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { modelTitle, runtimeFact } from '../../web/static/lib/models.js';
import { emptyState } from '../../web/static/lib/urlstate.js';
import {
  errorSentence,
  suggestedFilters,
  suggestionLabel,
} from '../../web/static/render/results.js';
import * as state from '../../web/static/state.js';

describe('filter counts', () => {
  const offered = state.offeredFacets({
    modality: [
      { value: 'CT', count: 5 },
      { value: 'X-ray', count: 17 },
    ],
    body_part: [
      { value: 'chest', count: 17 },
      { value: 'head', count: 5 },
    ],
    rows: [{ value: 512, count: 3 }],
  });

  test('are counted again when the filters change, and only then', () => {
    const before = { ...emptyState(), q: 'lung', filters: new Map([['modality', ['CT']]]) };
    const same = state.changeSearch(before, { filters: new Map([['modality', ['CT']]]) });
    assert.deepEqual(same.effects, ['search']);
    const more = state.changeSearch(before, {
      filters: new Map([['modality', ['CT', 'X-ray']]]),
    });
    assert.deepEqual(more.effects, ['facetCounts', 'search']);
    const cleared = state.changeSearch(before, { filters: new Map() });
    assert.deepEqual(cleared.effects, ['facetCounts', 'search']);
    // another index loads its facts, which count under the filters themselves
    const moved = state.changeSearch(before, { index: 'b', filters: new Map() });
    assert.deepEqual(moved.effects, ['indexFacts', 'search']);
    assert.deepEqual(state.changeSearch(before, { q: 'brain' }).effects, ['search']);
  });

  test('under a minimum score, come with the search of the query, and only then', () => {
    const cut = { ...emptyState(), q: 'lung', minScore: 0.3, filters: new Map() };
    assert.ok(state.countsFollowQuery(cut));
    assert.ok(!state.countsFollowQuery({ ...cut, minScore: null }));
    assert.ok(!state.countsFollowQuery({ ...cut, q: '' }));
    assert.ok(state.countsFollowQuery({ ...cut, q: '', similar: 4 }));
    // the search brings the counts: a new filter, a new query or a new cut-off asks no more
    const ticked = state.changeSearch(cut, { filters: new Map([['modality', ['CT']]]) });
    assert.deepEqual(ticked.effects, ['search']);
    assert.deepEqual(state.changeSearch(cut, { q: 'brain' }).effects, ['search']);
    assert.deepEqual(state.changeSearch(cut, { minScore: 0.5 }).effects, ['search']);
    // the cut-off or the query gone, the counts of every image under the filters come back
    assert.deepEqual(state.changeSearch(cut, { minScore: null }).effects, [
      'facetCounts',
      'search',
    ]);
    assert.deepEqual(state.changeSearch(cut, { q: '' }).effects, ['facetCounts', 'search']);
    const plain = { ...cut, minScore: null };
    assert.deepEqual(state.changeSearch(plain, { minScore: 0.3 }).effects, ['search']);
  });

  test('under "strong matches only", come with the search of the query too', () => {
    const strong = { ...emptyState(), q: 'lung', minZ: 2, filters: new Map() };
    assert.ok(state.countsFollowQuery(strong));
    assert.deepEqual(state.changeSearch(strong, { minZ: null }).effects, [
      'facetCounts',
      'search',
    ]);
  });

  test('the same filters in another order are the same', () => {
    const a = new Map([
      ['modality', ['CT', 'MR']],
      ['label', ['x']],
    ]);
    const b = new Map([
      ['label', ['x']],
      ['modality', ['MR', 'CT']],
    ]);
    assert.ok(state.sameFilters(a, b));
    assert.ok(!state.sameFilters(a, new Map([['modality', ['CT', 'MR']]])));
    assert.ok(!state.sameFilters(a, new Map([...a, ['label', ['y']]])));
  });

  test('every value offered keeps its place; one the answer leaves out counts 0', () => {
    const counts = state.countsUnder(offered, {
      modality: [
        { value: 'X-ray', count: 17 },
        { value: 'CT', count: 5 },
      ],
      body_part: [{ value: 'head', count: 5 }],
      rows: [{ value: 512, count: 1 }],
    });
    assert.deepEqual(
      counts,
      new Map([
        [
          'modality',
          new Map([
            ['CT', 5],
            ['X-ray', 17],
          ]),
        ],
        [
          'body_part',
          new Map([
            ['chest', 0],
            ['head', 5],
          ]),
        ],
        ['rows', new Map([['512', 1]])],
      ]),
    );
    // an answer without a field counts none of its values
    assert.deepEqual(state.countsUnder(offered, {}).get('body_part'), new Map([
      ['chest', 0],
      ['head', 0],
    ]));
  });
});

describe('an empty answer', () => {
  test('keeps the values it suggests, and offers each once', () => {
    const answer = { results: [], total: 0, suggestions: { modality: ['CT'] } };
    const shown = state.withAnswer(state.nothingShown(), answer, { offset: 0, pageSize: 24 });
    assert.deepEqual(shown.suggestions, { modality: ['CT'] });
    assert.deepEqual(state.nothingShown().suggestions, {});
    assert.deepEqual(
      suggestedFilters({ modality: ['CT', 'CT', 'Ct', ''], body_part: 'chest', x: [3] }),
      [
        { field: 'modality', value: 'CT' },
        { field: 'modality', value: 'Ct' },
      ],
    );
    assert.deepEqual(suggestedFilters(undefined), []);
    assert.equal(suggestionLabel('body_part', 'Chest'), 'Body part: Chest');
  });

  test('a suggestion takes the place of the value it differs from only in case', () => {
    const filters = new Map([
      ['modality', ['ct', 'MR']],
      ['label', ['x']],
    ]);
    const next = state.withSuggestion(filters, 'modality', 'CT');
    assert.deepEqual(next.get('modality'), ['MR', 'CT']);
    assert.deepEqual(next.get('label'), ['x']);
    assert.deepEqual(filters.get('modality'), ['ct', 'MR']); // not changed
    assert.deepEqual(state.withSuggestion(new Map(), 'modality', 'CT').get('modality'), ['CT']);
  });
});

describe('the model named', () => {
  test('by its own name when known, whatever its kind or reference says', () => {
    assert.equal(modelTitle({ name: 'biomedclip', model: 'hf-hub:microsoft/x' }), 'BiomedCLIP');
    const pubmed = { name: 'clip', model: 'flaviagiammarino/pubmed-clip-vit-base-patch32' };
    assert.equal(modelTitle(pubmed), 'PubMedCLIP');
    assert.equal(modelTitle({ name: 'clip', model: '/models/pubmedclip-tiny' }), 'PubMedCLIP');
    assert.equal(modelTitle({ name: 'conceptclip', model: 'JerrryNie/ConceptCLIP' }), 'ConceptCLIP');
  });

  test('else by the last part of its reference, else by its kind', () => {
    assert.equal(modelTitle({ name: 'open_clip', model: 'hf-hub:org/ViT-B-16/' }), 'ViT-B-16');
    assert.equal(modelTitle({ name: 'clip', model: 'C:\\models\\mine' }), 'mine');
    assert.equal(modelTitle({ name: 'clip' }), 'clip');
    assert.equal(modelTitle(undefined), '');
  });
});

describe('how the model runs', () => {
  test('says nothing of the PyTorch runtime', () => {
    assert.equal(runtimeFact({ runtime: 'torch', precision: 'bf16' }), '');
    assert.equal(runtimeFact({}), '');
  });

  test('names an int8 runtime with its figures against fp32', () => {
    const fidelity = { mean_cosine: '0.99937', min_cosine: '0.99799', top10_overlap: '0.9730' };
    assert.equal(
      runtimeFact({ runtime: 'onnx', precision: 'int8', fidelity }),
      'int8 on onnx (against fp32: mean cosine 0.99937, minimum 0.99799, top-10 overlap 0.9730)',
    );
    assert.equal(runtimeFact({ runtime: 'onnx', precision: 'fp32', fidelity: null }), 'fp32 on onnx');
  });
});

describe('a failed search', () => {
  const unreadable = { code: 'unreadable_image', status: 422, message: 'not an image' };

  test('names the file that is not an image, in a sentence without the raw code', () => {
    const file = new File(['hello'], 'notes.txt', { type: 'text/plain' });
    const { headline, detail } = errorSentence(file, unreadable);
    assert.equal(headline, '“notes.txt” is not an image MedSearch can read.');
    assert.equal(detail, 'Choose a PNG, JPEG or DICOM file (not an image).');
    assert.ok(!`${headline} ${detail}`.includes('unreadable_image'));
    const pasted = errorSentence(new Blob(['x']), unreadable);
    assert.equal(pasted.headline, 'The pasted image is not an image MedSearch can read.');
  });

  test('other failures keep the service’s words', () => {
    const file = new File(['x'], 'scan.png');
    const busy = { code: 'service_unavailable', status: 503, message: 'try later' };
    assert.deepEqual(errorSentence(file, busy), {
      headline: 'The image search with “scan.png” failed:',
      detail: 'try later',
    });
    assert.deepEqual(errorSentence(null, busy), {
      headline: 'The search failed:',
      detail: 'try later',
    });
  });
});
