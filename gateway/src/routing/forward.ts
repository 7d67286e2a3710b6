import type { IncomingHttpHeaders } from 'node:http';
import { Readable } from 'node:stream';
import type { Dispatcher } from 'undici';

/**
 * One request to a service over the keep-alive pool, with undici's dispatch API directly (no
 * response stream, no per-request URL parsing): the gateway's hot path spent more CPU in a
 * general-purpose proxy plugin than in everything else it does (docs/benchmarks.md).
 *
 * Never retried. The answer comes back one of two ways:
 * - **buffered**: a body with a declared length of at most `bufferLimit` bytes (the JSON answers
 *   that are nearly all traffic) is collected and handed over whole, so the client gets headers
 *   and body in one write;
 * - **stream**: anything else (SSE, images, exports, chunked answers) is handed over as a stream
 *   as soon as the headers arrive, with backpressure (the service is paused while the client is
 *   slow) and the service's request aborted when the client goes away.
 */
export interface UpstreamAnswer {
  status: number;
  headers: IncomingHttpHeaders;
  /** A Buffer when buffered, a Readable when streamed. */
  body: Buffer | Readable;
}

export interface UpstreamRequest {
  origin: string;
  /** Path and query, already canonical. */
  path: string;
  method: Dispatcher.HttpMethod;
  headers: IncomingHttpHeaders;
  body: Buffer | Readable | null;
  /** Time allowed for the answer's headers and between body chunks; 0 = unlimited. */
  timeoutMs: number;
  /** Time allowed for the answer's headers when it differs (an event stream: its body is unlimited, its headers not). */
  headersTimeoutMs?: number;
  /** Largest declared body that is buffered rather than streamed. */
  bufferLimit: number;
}

const EMPTY = Buffer.alloc(0);

export function sendUpstream(dispatcher: Dispatcher, req: UpstreamRequest): Promise<UpstreamAnswer> {
  return new Promise((resolve, reject) => {
    let settled = false;
    let ended = false;
    let status = 0;
    let headers: IncomingHttpHeaders = {};
    let chunks: Buffer[] | undefined;
    let stream: Readable | undefined;

    const handler: Dispatcher.DispatchHandler = {
      // Required by undici's request validation, even with nothing to do here.
      onRequestStart() {},
      onResponseStart(c, statusCode, responseHeaders) {
        status = statusCode;
        headers = responseHeaders;
        const declared = responseHeaders['content-length'];
        const length = declared === undefined ? NaN : Number(declared);
        const noBody = req.method === 'HEAD' || statusCode === 204 || statusCode === 304;
        if (noBody || (length <= req.bufferLimit && !isEventStream(responseHeaders))) {
          chunks = [];
          return;
        }
        stream = new Readable({
          read() {
            if (c.paused) c.resume();
          },
          destroy(err, cb) {
            // The client went away (or the reply failed) before the end: stop the service's answer too.
            if (!ended && !c.aborted) c.abort(err ?? new Error('client closed the connection'));
            cb(err);
          },
        });
        settled = true;
        resolve({ status, headers, body: stream });
      },
      onResponseData(c, chunk) {
        if (chunks) chunks.push(chunk);
        else if (stream && !stream.push(chunk)) c.pause();
      },
      onResponseEnd() {
        ended = true;
        if (stream) {
          stream.push(null);
          return;
        }
        settled = true;
        const body = !chunks || chunks.length === 0 ? EMPTY : chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
        resolve({ status, headers, body });
      },
      onResponseError(_c, error) {
        if (!settled) {
          settled = true;
          reject(error);
        } else if (stream && !stream.destroyed) {
          stream.destroy(error);
        }
      },
    };

    try {
      dispatcher.dispatch(
        {
          origin: req.origin,
          path: req.path,
          method: req.method,
          headers: req.headers as Record<string, string | string[]>,
          body: req.body,
          headersTimeout: req.headersTimeoutMs ?? req.timeoutMs,
          bodyTimeout: req.timeoutMs,
        },
        handler,
      );
    } catch (error) {
      settled = true;
      reject(error as Error);
    }
  });
}

function isEventStream(headers: IncomingHttpHeaders): boolean {
  const type = headers['content-type'];
  return typeof type === 'string' && type.startsWith('text/event-stream');
}
