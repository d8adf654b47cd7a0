/**
 * Groups on the page: which fields the "Group by" picker offers, and the words for a group's
 * size ("140 slices" of a series or study, "12 images" of any other group).
 */

/** Fields whose groups are series or studies: their members are slices. */
const SLICE_GROUPS = new Set(['series_key', 'study_key']);

/** What a result stands for, by field, in the status line ("4 series"). */
const GROUP_NOUNS = { series_key: ['series', 'series'], study_key: ['study', 'studies'] };

/**
 * The fields the "Group by" picker offers: the index's group fields when /api/info names them,
 * else the text fields of /api/facets that some value repeats in (a value held by one image
 * alone groups nothing).
 * @param {any} info the /api/info answer (null when unavailable)
 * @param {Record<string, {value: unknown, count: number}[]> | null} facets
 * @returns {string[]}
 */
export function groupFields(info, facets) {
  const named = Array.isArray(info?.group_fields) ? info.group_fields.map(String) : [];
  if (named.length > 0) return named;
  if (!facets || typeof facets !== 'object') return [];
  return Object.keys(facets)
    .filter((field) => {
      const entries = Array.isArray(facets[field]) ? facets[field] : [];
      return (
        entries.length > 0 &&
        entries.every((e) => typeof e?.value === 'string') &&
        entries.some((e) => e.count > 1)
      );
    })
    .sort();
}

/**
 * A group's size in words: "140 slices" for a series or study, "12 images" otherwise.
 * @param {{field: string, size: number}} group
 */
export function groupSizeText({ field, size }) {
  const unit = SLICE_GROUPS.has(field) ? 'slice' : 'image';
  return `${size} ${unit}${size === 1 ? '' : 's'}`;
}

/**
 * The noun for `count` groups of a field: "1 series", "3 studies", "2 groups by case".
 * @param {string} field
 * @param {number} count
 */
export function groupCountText(field, count) {
  const [one, many] = GROUP_NOUNS[field] ?? ['group', 'groups'];
  const noun = count === 1 ? one : many;
  return field in GROUP_NOUNS ? `${count} ${noun}` : `${count} ${noun} by ${field}`;
}

/**
 * The images of a group a result names as its best matches: its own image, then its next best.
 * @param {any} hit a collapsed search result
 * @returns {number[]}
 */
export function bestMatches(hit) {
  const next = Array.isArray(hit?.group?.next) ? hit.group.next : [];
  return [Number(hit.id), ...next.map((n) => Number(n.id))];
}
