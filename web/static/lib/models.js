/**
 * The name the page gives the model of an index, from the encoder that /api/info describes: the
 * research notice and the header name the model the index was really built with.
 */

/** Models known by name, matched against the encoder's kind or its model reference. */
const KNOWN_MODELS = [
  { pattern: /biomed-?clip/i, title: 'BiomedCLIP' },
  { pattern: /pubmed-?clip/i, title: 'PubMedCLIP' },
  { pattern: /concept-?clip/i, title: 'ConceptCLIP' },
];

/**
 * The model's name: a known model by its own name, else the last part of its model reference
 * (hub id or folder), else its kind.
 * @param {{name?: unknown, model?: unknown, family?: unknown} | null | undefined} encoder
 * @returns {string} '' when the encoder says nothing
 */
export function modelTitle(encoder) {
  const name = String(encoder?.name ?? '');
  const model = String(encoder?.model ?? '');
  for (const { pattern, title } of KNOWN_MODELS) {
    if (pattern.test(name) || pattern.test(model)) return title;
  }
  const lastPart = model.split(/[\\/]/).filter(Boolean).pop();
  return lastPart ?? name;
}

/**
 * How the served model runs, when it is not plain PyTorch: the runtime and precision, with the
 * int8 guard's figures against fp32 PyTorch (so a fast, unfaithful model cannot hide).
 * @param {{runtime?: unknown, precision?: unknown, fidelity?: any} | null | undefined} encoder
 * @returns {string} '' for the PyTorch runtime
 */
export function runtimeFact(encoder) {
  const runtime = String(encoder?.runtime ?? 'torch');
  if (runtime === 'torch') return '';
  const precision = String(encoder?.precision ?? '');
  const fact = `${precision ? `${precision} ` : ''}on ${runtime}`;
  const fidelity = encoder?.fidelity;
  if (!fidelity || typeof fidelity !== 'object') return fact;
  return (
    `${fact} (against fp32: mean cosine ${fidelity.mean_cosine}, ` +
    `minimum ${fidelity.min_cosine}, top-10 overlap ${fidelity.top10_overlap})`
  );
}
