import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { v4 as uuidv4 } from 'uuid';
import WebSocket from 'ws';
import type { ImageModelId } from '@imlab/contracts';
import type { ImageProvider, RenderRequest } from './provider.js';
import { ProviderError } from './provider.js';
import type { ProviderCapabilities } from './capabilities.js';
import { comfyUiCapabilities, placeInWorkflow, type ApiWorkflow, type ComfyUiTiers } from './comfyui-workflow.js';
import { readCapped } from './openai.js';

export interface ComfyUiOptions {
  /** The ComfyUI servers (e.g. http://gpu-1:8188); each render goes to the one with the shortest queue. */
  baseUrls: string[];
  /** The workflow and node map behind each tier. */
  tiers: ComfyUiTiers;
  /** Largest image accepted, in bytes (default 32 MiB). */
  maxImageBytes?: number;
  /** How often a job is looked up over HTTP once its WebSocket is gone (default 1 s; 10× that while it is open). */
  pollMs?: number;
  /** One HTTP request or WebSocket connect (not the render): default 10 s. */
  requestTimeoutMs?: number;
}

const DEFAULT_MAX_IMAGE_BYTES = 32 * 1024 * 1024;
const MAX_JSON_BYTES = 16 * 1024 * 1024;
/** Lookups in a row that may fail before a server that stopped answering mid-job counts as down. */
const LOOKUP_FAILURES = 3;
const MIME_EXT: Record<string, string> = { 'image/png': 'png', 'image/jpeg': 'jpg', 'image/webp': 'webp' };

const unreachable = (what: string, cause?: unknown) => new ProviderError('GENERATION_PROVIDER_UNREACHABLE', `ComfyUI ${what}`, { retryable: true, cause });
const badResponse = (what: string, retryable = true) => new ProviderError('GENERATION_PROVIDER_BAD_RESPONSE', `ComfyUI ${what}`, { retryable });
const lost = (what: string) => new ProviderError('GENERATION_PROVIDER_UNAVAILABLE', `ComfyUI ${what}`, { retryable: true });

interface QueueBody {
  queue_running?: unknown[][];
  queue_pending?: unknown[][];
}
interface HistoryEntry {
  outputs?: Record<string, { images?: { filename?: unknown; subfolder?: unknown; type?: unknown }[] }>;
  status?: { status_str?: string; completed?: boolean; messages?: [string, Record<string, unknown>][] };
}
interface WsMessage {
  type?: string;
  data?: Record<string, unknown>;
}

/** A settled-once outcome that a WebSocket listener and an HTTP poll both race to set. */
class Outcome {
  done = false;
  promise: Promise<void>;
  resolve!: () => void;
  reject!: (err: ProviderError) => void;
  constructor() {
    this.promise = new Promise<void>((res, rej) => {
      this.resolve = () => {
        if (this.done) return;
        this.done = true;
        res();
      };
      this.reject = (err) => {
        if (this.done) return;
        this.done = true;
        rej(err);
      };
    });
  }
}

/** What an execution_error says, as a provider error: out of memory is worth another try, a node that fails is not. */
function executionError(data: Record<string, unknown> | undefined): ProviderError {
  const type = String(data?.exception_type ?? 'error');
  // The exception message may quote inputs (the prompt): only the node and the exception type go into ours.
  const summary = `ComfyUI node ${String(data?.node_id ?? '?')} (${String(data?.node_type ?? '?')}) failed: ${type}`;
  if (/OutOfMemory|out of memory/i.test(type)) return new ProviderError('GENERATION_PROVIDER_UNAVAILABLE', summary, { retryable: true });
  return new ProviderError('GENERATION_PROVIDER_REJECTED', summary, { retryable: false });
}

/**
 * The self-hosted ComfyUI backend: the tier's API-format workflow with the request's values
 * placed by its node map, references uploaded through /upload/image, the job queued with
 * POST /prompt, progress read from /ws, the images fetched through /history and /view. A server
 * that is down, restarted (the job forgotten), too slow or answering garbage is a retryable
 * error; a workflow it refuses (node_errors) or a node that fails is a permanent one.
 */
export class ComfyUiProvider implements ImageProvider {
  readonly name = 'comfyui';
  readonly capabilities: ProviderCapabilities;
  private readonly bases: string[];
  private turn = Math.floor(Math.random() * 1000);
  private readonly opts: ComfyUiOptions;
  constructor(opts: ComfyUiOptions) {
    this.opts = opts;
    if (opts.baseUrls.length === 0) throw new Error('ComfyUI needs at least one base URL');
    this.bases = opts.baseUrls.map((u) => u.replace(/\/+$/, ''));
    this.capabilities = comfyUiCapabilities(opts.tiers);
  }

  private get pollMs() {
    return this.opts.pollMs ?? 1000;
  }

  private signalFor(signal: AbortSignal) {
    return AbortSignal.any([signal, AbortSignal.timeout(this.opts.requestTimeoutMs ?? 10_000)]);
  }

  /** One HTTP call; network failures and timeouts become retryable provider errors. */
  private async call(base: string, path: string, signal: AbortSignal, init: RequestInit = {}): Promise<Response> {
    try {
      return await fetch(`${base}${path}`, { ...init, signal: this.signalFor(signal), redirect: 'error' });
    } catch (err) {
      if (signal.aborted) throw new ProviderError('GENERATION_PROVIDER_TIMEOUT', 'ComfyUI did not finish in time', { retryable: true, cause: err });
      throw unreachable(`at ${new URL(base).host} could not be reached`, err);
    }
  }

  private async json<T>(res: Response, what: string): Promise<T> {
    const text = (await readCapped(res, MAX_JSON_BYTES)).toString('utf8');
    try {
      const body = JSON.parse(text) as unknown;
      if (body && typeof body === 'object') return body as T;
    } catch {
      // fall through
    }
    throw badResponse(`answered ${what} with something that is not JSON`);
  }

  /** The server with the fewest running and waiting jobs (ties: in turn); servers that do not answer are skipped. */
  private async pickServer(signal: AbortSignal): Promise<string> {
    const start = this.turn++;
    const order = this.bases.map((_, i) => this.bases[(start + i) % this.bases.length]!);
    const loads = await Promise.all(
      order.map(async (base) => {
        try {
          const res = await fetch(`${base}/queue`, { signal: AbortSignal.any([signal, AbortSignal.timeout(2000)]), redirect: 'error' });
          if (!res.ok) return Infinity;
          const q = (await res.json()) as QueueBody;
          if (!Array.isArray(q.queue_running) || !Array.isArray(q.queue_pending)) return Infinity;
          return q.queue_running.length + q.queue_pending.length;
        } catch {
          return Infinity;
        }
      }),
    );
    let best = -1;
    for (const [i, load] of loads.entries()) if (load !== Infinity && (best < 0 || load < loads[best]!)) best = i;
    if (best < 0) {
      if (signal.aborted) throw new ProviderError('GENERATION_PROVIDER_TIMEOUT', 'ComfyUI did not finish in time', { retryable: true });
      throw unreachable(`: none of the ${this.bases.length} servers answered`);
    }
    return order[best]!;
  }

  private connect(base: string, clientId: string, signal: AbortSignal): Promise<WebSocket> {
    const url = new URL(`${base}/ws`);
    url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
    url.searchParams.set('clientId', clientId);
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url, { handshakeTimeout: this.opts.requestTimeoutMs ?? 10_000, maxPayload: MAX_JSON_BYTES });
      const onAbort = () => ws.terminate();
      signal.addEventListener('abort', onAbort, { once: true });
      ws.once('open', () => {
        signal.removeEventListener('abort', onAbort);
        // Later socket errors end in 'close', which follow() handles; none may go unheard.
        ws.on('error', () => undefined);
        resolve(ws);
      });
      ws.once('error', (err) => {
        signal.removeEventListener('abort', onAbort);
        ws.terminate();
        reject(signal.aborted ? new ProviderError('GENERATION_PROVIDER_TIMEOUT', 'ComfyUI did not finish in time', { retryable: true, cause: err }) : unreachable(`at ${url.host}: its WebSocket could not be opened`, err));
      });
    });
  }

  async render(req: RenderRequest): Promise<Buffer[]> {
    const tier = this.opts.tiers[req.model as ImageModelId];
    if (!tier) throw new ProviderError('GENERATION_PROVIDER_REJECTED', `no workflow is configured for tier ${req.model}`, { retryable: false });
    const base = await this.pickServer(req.signal);
    const clientId = uuidv4();
    // Listening before the job is queued: no message about it can be missed.
    const ws = await this.connect(base, clientId, req.signal);
    let promptId: string | undefined;
    try {
      const referenceNames: string[] = [];
      for (const ref of req.references) referenceNames.push(await this.upload(base, ref, req.signal));
      const workflow = placeInWorkflow(tier, { ...req, referenceNames });
      promptId = await this.queue(base, workflow, clientId, req.signal);
      await this.follow(base, ws, promptId, req);
      const images = await this.results(base, promptId, tier.nodes.output, req);
      req.onProgress?.(100);
      return images;
    } catch (err) {
      if (req.signal.aborted && promptId) await this.cancel(base, promptId);
      if (err instanceof ProviderError) throw err;
      if (req.signal.aborted) throw new ProviderError('GENERATION_PROVIDER_TIMEOUT', 'ComfyUI did not finish in time', { retryable: true, cause: err });
      throw err;
    } finally {
      ws.terminate();
      // The job's history holds the whole workflow, the person's prompt included: it goes once
      // the images are fetched or the job ended (a job still queued or running is cancelled above).
      if (promptId) void this.forget(base, promptId);
    }
  }

  /**
   * Best effort: the job's entry leaves the server's history (POST /history {delete}), so the
   * prompt is not kept there. The files ComfyUI wrote (temp/, input/) stay on its disk: see
   * "What the farm keeps" in the service's README for the clean-up they need.
   */
  private async forget(base: string, promptId: string): Promise<void> {
    try {
      await fetch(`${base}/history`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ delete: [promptId] }), signal: AbortSignal.timeout(5000), redirect: 'error' });
    } catch {
      // the server is gone or busy: its history is bounded (ComfyUI keeps the last 10,000 jobs)
    }
  }

  /** POST /upload/image: named by content, so the same reference is stored once and overwriting it is harmless. */
  private async upload(base: string, ref: { bytes: Buffer; mime: string }, signal: AbortSignal): Promise<string> {
    const name = `imlab-${createHash('sha256').update(ref.bytes).digest('hex').slice(0, 32)}.${MIME_EXT[ref.mime] ?? 'png'}`;
    const form = new FormData();
    form.set('image', new Blob([new Uint8Array(ref.bytes)], { type: ref.mime }), name);
    form.set('type', 'input');
    form.set('overwrite', 'true');
    const res = await this.call(base, '/upload/image', signal, { method: 'POST', body: form });
    if (res.status >= 500) throw lost(`answered ${res.status} to an image upload`);
    if (!res.ok) throw new ProviderError('GENERATION_PROVIDER_REJECTED', `ComfyUI refused a reference image (${res.status})`, { retryable: false });
    const body = await this.json<{ name?: unknown; subfolder?: unknown }>(res, 'the image upload');
    if (typeof body.name !== 'string' || !body.name) throw badResponse('answered an image upload without a name');
    return typeof body.subfolder === 'string' && body.subfolder ? `${body.subfolder}/${body.name}` : body.name;
  }

  /** POST /prompt. A workflow it refuses (400 with node_errors) is permanent; 5xx and garbage are worth another try. */
  private async queue(base: string, prompt: ApiWorkflow, clientId: string, signal: AbortSignal): Promise<string> {
    const res = await this.call(base, '/prompt', signal, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ prompt, client_id: clientId }) });
    if (res.status >= 500) throw lost(`answered ${res.status} to a job`);
    if (res.status === 400) {
      let body: { error?: { type?: string }; node_errors?: Record<string, { class_type?: string; errors?: { type?: string; extra_info?: { input_name?: string } }[] }> } = {};
      try {
        body = await this.json(res, 'a refused job');
      } catch {
        // the status alone says it was refused
      }
      const nodes = Object.entries(body.node_errors ?? {}).map(
        ([id, e]) => `node ${id} (${e.class_type ?? '?'}): ${(e.errors ?? []).map((x) => `${x.extra_info?.input_name ? `${x.extra_info.input_name} ` : ''}${x.type ?? '?'}`).join(', ')}`,
      );
      throw new ProviderError('GENERATION_PROVIDER_REJECTED', `ComfyUI refused the workflow (${body.error?.type ?? 'invalid'})${nodes.length ? `: ${nodes.join('; ')}` : ''}`, { retryable: false });
    }
    if (!res.ok) throw new ProviderError('GENERATION_PROVIDER_REJECTED', `ComfyUI answered ${res.status} to a job`, { retryable: false });
    const body = await this.json<{ prompt_id?: unknown; node_errors?: Record<string, unknown> }>(res, 'a job');
    if (typeof body.prompt_id !== 'string' || !body.prompt_id) throw badResponse('queued a job without a prompt_id');
    if (body.node_errors && Object.keys(body.node_errors).length > 0) {
      void this.cancel(base, body.prompt_id);
      throw new ProviderError('GENERATION_PROVIDER_REJECTED', `ComfyUI refused nodes ${Object.keys(body.node_errors).join(', ')} of the workflow`, { retryable: false });
    }
    return body.prompt_id;
  }

  /**
   * Until the job ends: progress and the end from the WebSocket; when the socket drops (a
   * restart) or stays quiet, the job is looked up over HTTP — in the history (it ended) or the
   * queue (still coming); in neither, the server forgot it.
   */
  private async follow(base: string, ws: WebSocket, promptId: string, req: RenderRequest): Promise<void> {
    const outcome = new Outcome();
    let socketOpen = true;
    // Wakes the HTTP lookups: at once when the socket drops, for good when the job has ended.
    const wake = new AbortController();
    const stop = new AbortController();
    ws.on('message', (raw, isBinary) => {
      if (isBinary) return; // previews
      let msg: WsMessage;
      try {
        msg = JSON.parse(raw.toString()) as WsMessage;
      } catch {
        return;
      }
      const data = msg.data;
      if (!data || data.prompt_id !== promptId) return;
      if (msg.type === 'progress') {
        const value = Number(data.value);
        const max = Number(data.max);
        if (Number.isFinite(value) && Number.isFinite(max) && max > 0) req.onProgress?.(Math.max(0, Math.min(95, (value / max) * 95)));
      } else if (msg.type === 'executing' && data.node === null) {
        // The end: the server sends it once the job is in its history (execution_success comes before that).
        outcome.resolve();
      }
      else if (msg.type === 'execution_error') outcome.reject(executionError(data));
      else if (msg.type === 'execution_interrupted') outcome.reject(lost('interrupted the job'));
    });
    ws.once('close', () => {
      socketOpen = false;
      wake.abort();
    });
    const abort = () => outcome.reject(new ProviderError('GENERATION_PROVIDER_TIMEOUT', 'ComfyUI did not finish in time', { retryable: true }));
    if (req.signal.aborted) abort();
    req.signal.addEventListener('abort', abort, { once: true });
    const poll = (async () => {
      let failures = 0;
      while (!outcome.done) {
        await sleep(socketOpen ? this.pollMs * 10 : this.pollMs, undefined, { signal: AbortSignal.any(socketOpen ? [wake.signal, stop.signal, req.signal] : [stop.signal, req.signal]) }).catch(() => undefined);
        if (outcome.done) return;
        try {
          const state = await this.lookup(base, promptId, AbortSignal.any([req.signal, stop.signal]));
          failures = 0;
          if (state === 'done') outcome.resolve();
          else if (state === 'lost') outcome.reject(lost('forgot the job (restarted?)'));
          else if (state instanceof ProviderError) outcome.reject(state);
        } catch (err) {
          if (outcome.done) return;
          if (!(err instanceof ProviderError) || err.code !== 'GENERATION_PROVIDER_UNREACHABLE' || ++failures >= LOOKUP_FAILURES) outcome.reject(err instanceof ProviderError ? err : unreachable('stopped answering', err));
        }
      }
    })();
    try {
      await outcome.promise;
    } finally {
      req.signal.removeEventListener('abort', abort);
      stop.abort();
      await poll.catch(() => undefined);
    }
  }

  private async history(base: string, promptId: string, signal: AbortSignal): Promise<HistoryEntry | undefined> {
    const res = await this.call(base, `/history/${encodeURIComponent(promptId)}`, signal);
    if (res.status >= 500) throw unreachable(`answered ${res.status} to a history lookup`);
    if (!res.ok) throw badResponse(`answered ${res.status} to a history lookup`);
    const body = await this.json<Record<string, HistoryEntry>>(res, 'a history lookup');
    return body[promptId];
  }

  /** Where the job is: ended (or failed), still queued or running, or forgotten. */
  private async lookup(base: string, promptId: string, signal: AbortSignal): Promise<'done' | 'waiting' | 'lost' | ProviderError> {
    // The queue first, then the history: a job leaves the queue only once it is in the history.
    const res = await this.call(base, '/queue', signal);
    if (res.status >= 500) throw unreachable(`answered ${res.status} to a queue lookup`);
    const q = await this.json<QueueBody>(res, 'a queue lookup');
    const queued = [...(q.queue_running ?? []), ...(q.queue_pending ?? [])].some((item) => Array.isArray(item) && item[1] === promptId);
    if (queued) return 'waiting';
    const entry = await this.history(base, promptId, signal);
    if (!entry) return 'lost';
    if (entry.status?.status_str === 'error') {
      const failure = entry.status.messages?.find(([type]) => type === 'execution_error');
      return failure ? executionError(failure[1]) : lost('ended the job with an error');
    }
    return 'done';
  }

  /** The output node's images, from /history and /view. */
  private async results(base: string, promptId: string, outputNode: string, req: RenderRequest): Promise<Buffer[]> {
    const entry = await this.history(base, promptId, req.signal);
    if (!entry) throw lost('has no history of a job it finished (restarted?)');
    if (entry.status?.status_str === 'error') {
      const failure = entry.status.messages?.find(([type]) => type === 'execution_error');
      throw failure ? executionError(failure[1]) : lost('ended the job with an error');
    }
    const images = entry.outputs?.[outputNode]?.images;
    if (!Array.isArray(images) || images.length === 0) throw badResponse('finished the job without images');
    const maxImage = this.opts.maxImageBytes ?? DEFAULT_MAX_IMAGE_BYTES;
    const out: Buffer[] = [];
    for (const img of images.slice(0, req.count)) {
      if (typeof img?.filename !== 'string') throw badResponse('listed an image without a file name');
      const q = new URLSearchParams({ filename: img.filename, subfolder: typeof img.subfolder === 'string' ? img.subfolder : '', type: typeof img.type === 'string' ? img.type : 'output' });
      const res = await this.call(base, `/view?${q}`, req.signal);
      if (res.status >= 500) throw lost(`answered ${res.status} to an image download`);
      if (!res.ok) throw badResponse(`answered ${res.status} to an image download`);
      out.push(await readCapped(res, maxImage));
    }
    return out;
  }

  /** Best effort: takes a job that is no longer wanted off the server (queued: deleted; running: interrupted). */
  private async cancel(base: string, promptId: string): Promise<void> {
    const signal = AbortSignal.timeout(5000);
    try {
      await fetch(`${base}/queue`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ delete: [promptId] }), signal });
      const q = (await (await fetch(`${base}/queue`, { signal })).json()) as QueueBody;
      if ((q.queue_running ?? []).some((item) => Array.isArray(item) && item[1] === promptId)) {
        // Named, so a server that knows which job runs interrupts only ours.
        await fetch(`${base}/interrupt`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ prompt_id: promptId }), signal });
      }
    } catch {
      // the server is gone or busy: the job ends on its own
    }
  }
}
