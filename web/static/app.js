/**
 * MedSearch search page: the entry module, which builds the page's parts and starts it.
 *
 * The page keeps one state (`page`, state.js). What the user asked for (`page.search`: text
 * query, "similar to" id or query image, filters, minimum score, index and compared index)
 * changes only through `update()` (update.js), which writes it to the URL and runs the effects
 * the change calls for: the facts of the index searched, then the search. The URL is read back
 * on load and on back/forward. The results area shows one phase at a time, drawn from the state
 * by `render(phase)` (render/results.js), result cards included. events.js turns the page's
 * events into updates; lib/ holds the API client, the DOM helpers and the URL state.
 */

import { pageElements } from './elements.js';
import { wireEvents, wireSignIn } from './events.js';
import { createApi } from './lib/api.js';
import { steered, withoutSteer } from './lib/steering.js';
import { knownIndexes, newQuery, stateFromUrl } from './lib/urlstate.js';
import { renderExamples } from './render/controls.js';
import { createDetail } from './render/detail.js';
import { renderIndexPickers } from './render/header.js';
import { createQueryChip } from './render/querychip.js';
import { createRender } from './render/results.js';
import { createSteerChips } from './render/steerchips.js';
import { createPage, indexNames, similarIndexes, withSuggestion } from './state.js';
import { createUpdate } from './update.js';

/** Results per request; 24 fills whole rows of 2, 3, 4 or 6 columns. */
const PAGE_SIZE = 24;
/** Results per index in the compare view. */
const COMPARE_SIZE = 12;

const apiBase = document.body.dataset.apiBase || '/api';
const page = createPage();
const els = pageElements();
const api = createApi(apiBase, { currentIndex: () => page.search.index });

const detail = createDetail({
  api,
  apiBase,
  onFindSimilar: (id, index) => {
    const indexes = similarIndexes(page.search, indexNames(page.indexes), index);
    actions.update({ ...newQuery({ similar: id }), ...indexes });
  },
  onFindSimilarGroup: (level, group, index) => {
    const indexes = similarIndexes(page.search, indexNames(page.indexes), index);
    actions.update({ ...newQuery({ group, level }), ...indexes });
  },
  suggestedLabels: () => [...(page.facetValues?.get('label')?.keys() ?? [])],
  onSteer: (id, direction, index) => {
    const indexes = similarIndexes(page.search, indexNames(page.indexes), index);
    // image ids belong to their index: steering by another index's image starts over there
    const elsewhere = Object.keys(indexes).length > 0;
    const fresh = elsewhere ? newQuery() : {};
    const steering = steered({ ...page.search, ...fresh }, id, direction);
    actions.update({ ...fresh, ...steering, ...indexes });
  },
});
const render = createRender({
  els,
  page,
  apiBase,
  compareSize: COMPARE_SIZE,
  onOpen: (hit, card) => detail.open(hit, card),
  onSuggestion: (field, value) =>
    actions.update({ filters: withSuggestion(page.search.filters, field, value) }),
});
const actions = createUpdate({
  page,
  els,
  api,
  render,
  queryChip: bothChips(
    createQueryChip({ api, apiBase }),
    createSteerChips({
      apiBase,
      onRemove: (id) => actions.update(withoutSteer(page.search, id)),
    }),
  ),
  detail,
  sizes: { pageSize: PAGE_SIZE, compareSize: COMPARE_SIZE },
});

/**
 * The query chip and the steering chips, shown together for each search.
 * @param {{show: (search: any) => void}} queryChip
 * @param {{show: (search: any) => void}} steerChips
 */
function bothChips(queryChip, steerChips) {
  return {
    show(search) {
      queryChip.show(search);
      steerChips.show(search);
    },
  };
}

/** Ask for the access token and stop: nothing else can load before it. */
function askForToken() {
  actions.showPhase('signin');
  document.body.dataset.ready = 'true';
}

async function init() {
  wireEvents({ els, page, actions, detail });
  wireSignIn(els, api);
  renderExamples(els, (example) => actions.update(newQuery({ q: example })));
  try {
    const answer = await api.indexes();
    page.indexes = Array.isArray(answer.indexes) ? answer.indexes : [];
  } catch (error) {
    page.indexes = []; // the header reports why the service cannot be used
    if (error?.status === 401) {
      askForToken();
      return;
    }
  }
  renderIndexPickers(els, page.indexes);
  const fromUrl = stateFromUrl(window.location.search, () => false);
  page.search = { ...page.search, ...knownIndexes(fromUrl, indexNames(page.indexes)) };
  // The facts first: their filters decide which URL parameters restore() reads as filters.
  if (!(await actions.loadIndexFacts())) {
    askForToken();
    return;
  }
  actions.restore();
  document.body.dataset.ready = 'true';
}

init();
