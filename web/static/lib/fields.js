/**
 * The metadata fields the page puts first: the tags of a result card, the first rows of the
 * result panel's table and the filter groups shown open, all in the same order.
 */

/** The fields listed first, in this order. */
export const FIRST_FIELDS = ['modality', 'body_part', 'label'];

/** True for one of the first fields. */
export function isFirstField(field) {
  return FIRST_FIELDS.includes(field);
}

/**
 * Field names in the page's order: the first fields present, in their order, then the others
 * alphabetically.
 * @param {string[]} fields
 * @returns {string[]}
 */
export function firstFieldsFirst(fields) {
  return [
    ...FIRST_FIELDS.filter((field) => fields.includes(field)),
    ...fields.filter((field) => !isFirstField(field)).sort(),
  ];
}
