/**
 * Client for the MedSearch JSON API (the page's only way to reach the service).
 *
 * Every failure becomes an ApiError carrying the service's own message when it sent one
 * (`{"error": {"code", "message"}}`), so the page can show it as is.
 */

export class ApiError extends Error {
  /**
   * @param {string} message
   * @param {{status?: number, code?: string}} [details]
   */
  constructor(message, { status = 0, code = 'error' } = {}) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
  }
}

/** True for the rejection fetch gives when its AbortSignal fires. */
export function isAbort(error) {
  return error instanceof DOMException && error.name === 'AbortError';
}

/**
 * A path with the `index` query argument added (unchanged for null: the service's default).
 * @param {string} path
 * @param {string | null} index
 */
export function withIndex(path, index) {
  if (index === null) return path;
  return `${path}${path.includes('?') ? '&' : '?'}index=${encodeURIComponent(index)}`;
}

/**
 * @param {string} base URL prefix of the API, e.g. "/api"
 * @param {{currentIndex?: () => string | null}} [options] currentIndex: the index requests go to
 *   unless they name one (null: the service's default)
 */
export function createApi(base, { currentIndex = () => null } = {}) {
  /** A JSON body for the current index unless it names its own. */
  const indexed = (body) => ({ index: currentIndex() ?? undefined, ...body });

  /**
   * @param {string} path
   * @param {{method?: string, json?: unknown, form?: FormData, signal?: AbortSignal}} [options]
   */
  async function request(path, { method = 'GET', json, form, signal } = {}) {
    /** @type {RequestInit} */
    const init = { method, signal, headers: { Accept: 'application/json' } };
    if (json !== undefined) {
      init.body = JSON.stringify(json);
      init.headers = { ...init.headers, 'Content-Type': 'application/json' };
    } else if (form !== undefined) {
      init.body = form; // the browser sets the multipart boundary itself
    }
    let response;
    try {
      response = await fetch(base + path, init);
    } catch (error) {
      if (isAbort(error)) throw error;
      throw new ApiError('Could not reach the search service. Is it running?', {
        code: 'network_error',
      });
    }
    const text = await response.text();
    let body = null;
    try {
      body = text ? JSON.parse(text) : null;
    } catch {
      body = null; // e.g. an HTML error page from a proxy
    }
    if (!response.ok) {
      const error = body && typeof body === 'object' ? body.error : null;
      const message =
        error && typeof error.message === 'string' && error.message
          ? error.message
          : `The service answered ${response.status} ${response.statusText}`.trim();
      throw new ApiError(message, {
        status: response.status,
        code: error && typeof error.code === 'string' ? error.code : `http_${response.status}`,
      });
    }
    if (body === null || typeof body !== 'object') {
      throw new ApiError('The service sent an answer the page cannot read.', {
        status: response.status,
        code: 'bad_response',
      });
    }
    return body;
  }

  return {
    info: (signal) => request(withIndex('/info', currentIndex()), { signal }),
    /**
     * GET /facets: every field's values with their counts; under `filters` (as in a search),
     * each field counted with the other fields' filters applied.
     * @param {object} [filters]
     * @param {AbortSignal} [signal]
     * @param {string} [index] the index counted (the current one by default)
     */
    facets(filters, signal, index = currentIndex()) {
      const query = filters ? `?filters=${encodeURIComponent(JSON.stringify(filters))}` : '';
      return request(withIndex(`/facets${query}`, index), { signal });
    },
    /** GET /indexes: the served indexes, the default first. */
    indexes: (signal) => request('/indexes', { signal }),
    image: (id, signal, index = currentIndex()) =>
      request(withIndex(`/images/${encodeURIComponent(id)}`, index), { signal }),
    /** GET /duplicates?threshold=&across=&limit=: clusters of near-identical images. */
    duplicates: (query, signal) => request(`/duplicates?${query}`, { signal }),

    /** GET /duplicates/threshold: the index's adaptive near-duplicate threshold. */
    duplicateThreshold: (index = currentIndex()) =>
      request(withIndex('/duplicates/threshold', index)),

    /** GET /groups/<field>/<value>: the images sharing a field's value, in slice order. */
    group: (field, value, signal, index = currentIndex()) =>
      request(
        withIndex(`/groups/${encodeURIComponent(field)}/${encodeURIComponent(value)}`, index),
        { signal },
      ),

    /**
     * POST /search with exactly one of text, image, image_id, vector plus paging/filters
     * (and `index` to search another index than the current one; `facets: true` to have the
     * filter counts under its minimum score with the answer).
     */
    search: (body, signal) => request('/search', { method: 'POST', json: indexed(body), signal }),

    /**
     * POST /search/image as multipart: the file plus the same fields as form values.
     * @param {Blob} file
     * @param {{k: number, offset: number, filters?: object, min_score?: number,
     *   min_z?: number, collapse?: string, dedupe?: number, index?: string, facets?: boolean}}
     *   params
     */
    searchImage(file, params, signal) {
      const form = new FormData();
      form.append('file', file, file instanceof File ? file.name : 'query');
      form.append('k', String(params.k));
      form.append('offset', String(params.offset));
      if (params.min_score !== undefined) form.append('min_score', String(params.min_score));
      if (params.min_z !== undefined) form.append('min_z', String(params.min_z));
      if (params.facets) form.append('facets', 'true');
      if (params.filters) form.append('filters', JSON.stringify(params.filters));
      if (params.collapse !== undefined) form.append('collapse', params.collapse);
      if (params.dedupe !== undefined) form.append('dedupe', String(params.dedupe));
      const index = params.index ?? currentIndex();
      if (index !== null) form.append('index', index);
      return request('/search/image', { method: 'POST', form, signal });
    },

    classify: (body, signal) =>
      request('/classify', { method: 'POST', json: indexed(body), signal }),

    /** The original file of an indexed image, as a Blob (to search another index with it). */
    async imageFile(id, index, signal) {
      const path = withIndex(`/images/${encodeURIComponent(id)}/file`, index);
      const response = await fetch(base + path, { signal });
      if (!response.ok) {
        throw new ApiError(`The image could not be fetched (${response.status})`, {
          status: response.status,
          code: `http_${response.status}`,
        });
      }
      return response.blob();
    },

    /** POST /session: the service answers with an HttpOnly cookie it accepts from then on. */
    signIn: (token) => request('/session', { method: 'POST', json: { token } }),
  };
}
