/**
 * The imagemakerlab API client: the operations, requests and answers are generated from the
 * gateway's merged OpenAPI document (`api-types.ts`, by openapi-typescript) and called through
 * openapi-fetch. Hand-written here only what generation cannot reach: turning a problem answer
 * into an error, uploading raw image bytes, following a generation's event stream, downloading a
 * file. Standard `fetch` only: runs in browsers (cookies go with `credentials: 'include'`) and in
 * Node (pass a `fetch` that keeps cookies, as the end-to-end tests do).
 */
import createClient, { type Client, type ClientOptions, type Middleware } from 'openapi-fetch';
import type { components, operations, paths } from './api-types.js';

export type { components, operations, paths };
export type Schemas = components['schemas'];
export type Problem = Schemas['Problem'];
export type ErrorCode = Problem['code'];
export type Generation = Schemas['Generation'];
export type GenerationStatus = Generation['status'];
export type ApiClient = Client<paths>;
export type { Middleware };

export interface ApiClientOptions {
  /** The gateway's origin, e.g. `https://imagemakerlab.com` (in a browser: `location.origin`, or '' for the same origin). */
  baseUrl: string;
  /** A fetch of your own (Node: one that keeps the session cookie; tests: one that records). */
  fetch?: typeof globalThis.fetch;
  /** Headers sent with every request. */
  headers?: Record<string, string>;
}

/** The typed client: `api.GET('/v1/credits/balance')`, `api.POST('/v1/generations', { body })`, … */
export function createApiClient(opts: ApiClientOptions): ApiClient {
  const options: ClientOptions = { baseUrl: opts.baseUrl, credentials: 'include', headers: opts.headers };
  if (opts.fetch) options.fetch = opts.fetch;
  return createClient<paths>(options);
}

/** A problem answer (RFC 9457) as an error: its status, registered code and the person-language detail. */
export class ApiError extends Error {
  readonly status: number;
  readonly code: ErrorCode | 'UNKNOWN';
  readonly problem: Problem | undefined;
  /** Seconds, from Retry-After (429, 503). */
  readonly retryAfter: number | undefined;

  constructor(status: number, problem: Problem | undefined, retryAfter?: number) {
    super(problem ? `${status} ${problem.code}${problem.detail ? `: ${problem.detail}` : ''}` : `HTTP ${status}`);
    this.name = 'ApiError';
    this.status = status;
    this.code = problem?.code ?? 'UNKNOWN';
    this.problem = problem;
    this.retryAfter = retryAfter;
  }
}

const retryAfterOf = (response: Response): number | undefined => {
  const v = response.headers.get('retry-after');
  return v !== null && /^\d+$/.test(v) ? Number(v) : undefined;
};

const isProblem = (value: unknown): value is Problem => typeof value === 'object' && value !== null && typeof (value as { code?: unknown }).code === 'string';

/**
 * The data of a successful answer, or an ApiError for a problem:
 * `const balance = await ok(api.GET('/v1/credits/balance'))`.
 */
export async function ok<T>(result: Promise<{ data?: T; error?: unknown; response: Response }> | { data?: T; error?: unknown; response: Response }): Promise<T> {
  const { data, error, response } = await result;
  if (!response.ok) throw new ApiError(response.status, isProblem(error) ? error : undefined, retryAfterOf(response));
  return data as T;
}

/** The media types an upload may be. */
export type ImageType = 'image/png' | 'image/jpeg' | 'image/webp';
type UploadAnswer = paths['/v1/uploads']['post']['responses'][201]['content']['application/json'];

/**
 * Uploads a reference image (its raw bytes, not a form) and answers the stored upload. The same
 * bytes uploaded again answer the same upload.
 */
export async function uploadImage(api: ApiClient, image: Blob | ArrayBuffer | Uint8Array, type: ImageType): Promise<UploadAnswer> {
  const body = image instanceof Blob ? image : new Blob([image as ArrayBuffer], { type });
  return ok(
    api.POST('/v1/uploads', {
      body: body as never,
      bodySerializer: (b: unknown) => b as Blob,
      headers: { 'content-type': type },
    }) as Promise<{ data?: UploadAnswer; error?: unknown; response: Response }>,
  );
}

/** A file the API serves (an image, a thumbnail, an export archive), as a Blob, or an ApiError. */
export async function download(opts: ApiClientOptions, path: string, signal?: AbortSignal): Promise<Blob> {
  const fetchImpl = opts.fetch ?? globalThis.fetch;
  const response = await fetchImpl(`${opts.baseUrl}${path}`, { credentials: 'include', headers: opts.headers, signal: signal ?? null });
  if (!response.ok) {
    const body: unknown = await response.json().catch(() => undefined);
    throw new ApiError(response.status, isProblem(body) ? body : undefined, retryAfterOf(response));
  }
  return response.blob();
}

export const FINAL_STATUSES: readonly GenerationStatus[] = ['succeeded', 'failed', 'canceled', 'rejected'];

/** One `status` event of a generation's stream: the generation as it is now. */
export interface GenerationEvent {
  /** The event's id: the status it reports (sent back as Last-Event-ID on a reconnect). */
  id: string | undefined;
  generation: Generation;
}

/** Parses a text/event-stream body into its events (name, id, data), ignoring comments. */
export async function* parseEventStream(body: ReadableStream<Uint8Array>): AsyncGenerator<{ event: string; id: string | undefined; data: string }> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  let event = 'message';
  let id: string | undefined;
  let data: string[] = [];
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      buffer += decoder.decode(value, { stream: true });
      let newline: number;
      while ((newline = buffer.search(/\r\n|\r|\n/)) >= 0) {
        const line = buffer.slice(0, newline);
        buffer = buffer.slice(newline + (buffer.startsWith('\r\n', newline) ? 2 : 1));
        if (line === '') {
          if (data.length) yield { event, id, data: data.join('\n') };
          event = 'message';
          data = [];
          continue;
        }
        if (line.startsWith(':')) continue;
        const colon = line.indexOf(':');
        const field = colon < 0 ? line : line.slice(0, colon);
        const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
        if (field === 'event') event = value;
        else if (field === 'data') data.push(value);
        else if (field === 'id') id = value;
      }
    }
  } finally {
    reader.releaseLock();
  }
}

export interface GenerationEventsOptions extends ApiClientOptions {
  signal?: AbortSignal;
  /** Reconnects after a dropped stream (default 5); a stream that ends on a final status is done. */
  maxReconnects?: number;
  /** First wait before reconnecting, doubled each time (default 500 ms). */
  reconnectDelayMs?: number;
  /** Render progress (whole percent) from providers that report it, between `running` and the result. */
  onProgress?: (percent: number) => void;
}

/**
 * Follows `GET /v1/generations/{id}/events`: yields the generation at once and at every status
 * change, until a final status. A stream that drops (a server restarting) is opened again with
 * `Last-Event-ID`, so the status already seen is not yielded twice. A problem answer (404, 401…)
 * is an ApiError.
 */
export async function* generationEvents(id: string, opts: GenerationEventsOptions): AsyncGenerator<GenerationEvent> {
  const fetchImpl = opts.fetch ?? globalThis.fetch;
  const maxReconnects = opts.maxReconnects ?? 5;
  let delay = opts.reconnectDelayMs ?? 500;
  let lastId: string | undefined;
  for (let attempt = 0; ; attempt++) {
    const headers: Record<string, string> = { ...opts.headers, accept: 'text/event-stream' };
    if (lastId) headers['last-event-id'] = lastId;
    let response: Response | undefined;
    try {
      response = await fetchImpl(`${opts.baseUrl}/v1/generations/${encodeURIComponent(id)}/events`, { credentials: 'include', headers, signal: opts.signal ?? null });
    } catch (err) {
      if (opts.signal?.aborted || attempt >= maxReconnects) throw err;
    }
    if (response && !response.ok) {
      const body: unknown = await response.json().catch(() => undefined);
      const error = new ApiError(response.status, isProblem(body) ? body : undefined, retryAfterOf(response));
      if (response.status !== 503 || attempt >= maxReconnects) throw error;
    } else if (response?.body) {
      try {
        for await (const message of parseEventStream(response.body)) {
          if (message.event === 'progress') {
            const percent = (JSON.parse(message.data) as { percent?: unknown }).percent;
            if (typeof percent === 'number') opts.onProgress?.(percent);
            continue;
          }
          if (message.event !== 'status') continue;
          lastId = message.id ?? lastId;
          const generation = JSON.parse(message.data) as Generation;
          yield { id: message.id, generation };
          if (FINAL_STATUSES.includes(generation.status)) return;
        }
      } catch (err) {
        if (opts.signal?.aborted || attempt >= maxReconnects) throw err;
      }
      if (attempt >= maxReconnects) throw new Error(`the event stream of generation ${id} ended ${maxReconnects + 1} times before a final status`);
    }
    await new Promise((r) => setTimeout(r, delay));
    delay = Math.min(delay * 2, 10_000);
  }
}
