/**
 * The filter checkboxes: one group per field offered as a filter (state.js `offeredFacets`), the
 * first fields first and open, the rest under "More filters". The checkboxes only show the search
 * state; events.js turns their changes into state changes.
 */

import { clear, fieldLabel, h } from '../lib/dom.js';

/** Values shown per facet before "Show all". */
const FACET_PREVIEW = 8;

/**
 * Fill `container` with the facet groups.
 * @param {HTMLElement} container
 * @param {import('../state.js').Facet[]} offered the fields offered as filters, in order
 */
export function renderFacets(container, offered) {
  clear(container);
  const more = h('div', { class: 'facet-more-list' });
  for (const { field, entries, primary } of offered) {
    const group = renderFacetGroup(field, entries, primary);
    if (primary) container.append(group);
    else more.append(group);
  }
  if (more.childElementCount > 0) {
    container.append(
      h(
        'details',
        { class: 'facet facet-more' },
        h(
          'summary',
          {},
          'More filters',
          h('span', { class: 'count' }, String(more.childElementCount)),
        ),
        more,
      ),
    );
  }
  if (offered.length === 0) container.append(h('p', { class: 'muted' }, 'No filters available.'));
}

/**
 * Say why there are no filters.
 * @param {HTMLElement} container
 * @param {string} reason
 */
export function renderFacetsUnavailable(container, reason) {
  container.replaceChildren(h('p', { class: 'muted' }, `Filters unavailable (${reason}).`));
}

/**
 * One field's checkbox list, the most frequent values first and the rest behind "Show all".
 * @param {string} field
 * @param {{value: unknown, count: number}[]} entries
 * @param {boolean} open
 */
function renderFacetGroup(field, entries, open) {
  const items = entries.map((entry, index) => {
    const value = String(entry.value);
    return h(
      'li',
      { hidden: index >= FACET_PREVIEW },
      h(
        'label',
        { class: 'facet-option' },
        h('input', { type: 'checkbox', name: field, value, dataset: { field, value } }),
        h('span', { class: 'facet-value' }, value),
        h('span', { class: 'count', dataset: { count: '' } }, String(entry.count ?? '')),
      ),
    );
  });
  const group = h(
    'details',
    { class: 'facet', open, dataset: { field } },
    h('summary', {}, fieldLabel(field), h('span', { class: 'count' }, String(entries.length))),
    h(
      'fieldset',
      {},
      h('legend', { class: 'visually-hidden' }, fieldLabel(field)),
      h('ul', { class: 'facet-list' }, items),
    ),
  );
  if (entries.length > FACET_PREVIEW) {
    const toggle = h(
      'button',
      { type: 'button', class: 'link-button', 'aria-expanded': 'false' },
      `Show all ${entries.length}`,
    );
    toggle.addEventListener('click', () => {
      const expand = toggle.getAttribute('aria-expanded') !== 'true';
      items.forEach((li, i) => {
        li.hidden = !expand && i >= FACET_PREVIEW;
      });
      toggle.setAttribute('aria-expanded', String(expand));
      toggle.textContent = expand ? 'Show fewer' : `Show all ${entries.length}`;
    });
    group.append(toggle);
  }
  return group;
}

/**
 * Tick exactly the selected values' checkboxes, and bring each ticked one into view.
 * @param {HTMLElement} container
 * @param {Map<string, string[]>} filters field -> selected values
 */
export function showSelected(container, filters) {
  for (const box of container.querySelectorAll('input[type="checkbox"]')) {
    const input = /** @type {HTMLInputElement} */ (box);
    const selected = filters.get(input.dataset.field ?? '') ?? [];
    input.checked = selected.includes(input.dataset.value ?? '');
    // A checked value hidden behind "Show all" or a closed group would be easy to forget.
    if (!input.checked) continue;
    input.closest('li')?.removeAttribute('hidden');
    let group = input.closest('details');
    while (group) {
      group.open = true;
      group = group.parentElement?.closest('details') ?? null;
    }
  }
}

/**
 * Show each value's count under the filters chosen; a value with none is dimmed but stays, so a
 * ticked one can be unticked.
 * @param {HTMLElement} container
 * @param {Map<string, Map<string, number>>} counts field -> (value as text -> count)
 */
export function showCounts(container, counts) {
  for (const box of container.querySelectorAll('input[type="checkbox"]')) {
    const input = /** @type {HTMLInputElement} */ (box);
    const count = counts.get(input.dataset.field ?? '')?.get(input.dataset.value ?? '');
    const option = input.closest('.facet-option');
    const shown = option?.querySelector('[data-count]');
    if (count === undefined || !option || !shown) continue;
    shown.textContent = String(count);
    option.classList.toggle('is-none', count === 0);
  }
}
