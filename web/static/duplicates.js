/**
 * The duplicates page: the index's clusters of near-identical images, each shown side by side,
 * and with `across=FIELD` the clusters spanning several values of it with the leakage counts.
 * Its form's values live in the URL (`?threshold=0.99&across=split`).
 */

import { ApiError, createApi } from './lib/api.js';
import { h, safeUrl } from './lib/dom.js';

const apiBase = document.body.dataset.apiBase || '/api';
const params = new URLSearchParams(location.search);
const index = params.get('index');
const api = createApi(apiBase, { currentIndex: () => index });

/** @param {string} id */
const $ = (id) => /** @type {HTMLElement} */ (document.getElementById(id));

/**
 * One image of a cluster: its thumbnail, id, path and (across a field) its value.
 * @param {any} member
 */
function memberCard(member) {
  const src = safeUrl(member.thumbnail_url);
  const value = member.value === undefined ? null : h('span', { class: 'tag' }, String(member.value));
  return h(
    'li',
    { class: 'dup-member', dataset: { id: String(member.id) } },
    src ? h('img', { src, alt: '', loading: 'lazy' }) : null,
    h('span', { class: 'dup-path' }, `#${member.id} ${member.path}`),
    value,
  );
}

/** @param {any} cluster */
function clusterItem(cluster) {
  return h(
    'li',
    { class: 'dup-cluster' },
    h('p', {}, `${cluster.size} images, cosine ${Number(cluster.closest).toFixed(4)}`),
    h('ul', { class: 'dup-members' }, cluster.members.map(memberCard)),
  );
}

async function show() {
  const threshold = params.get('threshold');
  const across = params.get('across');
  /** @type {HTMLInputElement} */ ($('dup-threshold')).value = threshold ?? '';
  /** @type {HTMLInputElement} */ ($('dup-across')).value = across ?? '';
  const query = new URLSearchParams({ limit: '50' });
  if (threshold) query.set('threshold', threshold);
  if (across) query.set('across', across);
  if (index) query.set('index', index);
  try {
    const report = await api.duplicates(query);
    const spanning = report.across ? `, spanning several values of ${report.across}` : '';
    $('dup-status').textContent =
      `${report.cluster_count} clusters (${report.images_in_clusters} images) at cosine ` +
      `≥ ${Number(report.threshold).toFixed(4)} (${report.threshold_rule})${spanning}`;
    const rows = report.leakage.map((pair) =>
      h(
        'tr',
        {},
        h('td', {}, String(pair.values[0])),
        h('td', {}, String(pair.values[1])),
        h('td', {}, String(pair.clusters)),
        h('td', {}, String(pair.images)),
      ),
    );
    $('dup-leakage').querySelector('tbody')?.replaceChildren(...rows);
    $('dup-leakage').hidden = rows.length === 0;
    $('dup-clusters').replaceChildren(...report.clusters.map(clusterItem));
  } catch (error) {
    $('dup-status').textContent =
      error instanceof ApiError ? error.message : 'The duplicates could not be found.';
  }
}

show();
