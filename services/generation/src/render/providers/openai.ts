import { retryAfterFromHeaders } from '@imlab/queue';
import type { ImageModelId } from '@imlab/contracts';
import type { ImageProvider, RenderRequest } from './provider.js';
import { ProviderError } from './provider.js';
import { OPENAI_MODELS, openAiCapabilities, type OpenAiTiers, type ProviderCapabilities } from './capabilities.js';

export interface OpenAiOptions {
  apiKey: string;
  /** e.g. https://api.openai.com/v1, or a compatible self-hosted server. */
  baseUrl: string;
  /** The model and quality behind each tier. */
  tiers: OpenAiTiers;
  /** Largest image accepted from the provider, in bytes (default 32 MiB); answers are read within it. */
  maxImageBytes?: number;
}

const DEFAULT_MAX_IMAGE_BYTES = 32 * 1024 * 1024;
const MAX_ERROR_BODY_BYTES = 64 * 1024;

const badResponse = (message: string, retryable: boolean) => new ProviderError('GENERATION_PROVIDER_BAD_RESPONSE', message, { retryable });

/**
 * The body, read only up to `max` bytes: a misbehaving (or compromised) "compatible" server must
 * not be able to fill the worker's memory with one answer.
 */
export async function readCapped(res: Response, max: number): Promise<Buffer> {
  const declared = Number(res.headers.get('content-length') ?? NaN);
  if (declared > max) {
    await res.body?.cancel().catch(() => undefined);
    throw badResponse(`the image provider answered ${declared} bytes, more than the ${max} allowed`, false);
  }
  const chunks: Uint8Array[] = [];
  let total = 0;
  if (res.body) {
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      total += chunk.byteLength;
      if (total > max) {
        await res.body.cancel().catch(() => undefined);
        throw badResponse(`the image provider answered more than the ${max} bytes allowed`, false);
      }
      chunks.push(chunk);
    }
  }
  return Buffer.concat(chunks);
}

interface ImagesResponse {
  data?: { b64_json?: string; url?: string }[];
}

interface ErrorBody {
  error?: { message?: string; type?: string; code?: string | null; param?: string | null };
}

const MIME_EXT: Record<string, string> = { 'image/png': 'png', 'image/jpeg': 'jpg', 'image/webp': 'webp' };

/**
 * OpenAI-compatible Images API: POST /images/generations (JSON) without references, POST
 * /images/edits (multipart, `image[]`) with them. Error bodies `{error:{message,type,code}}` are
 * mapped to stable codes; 429 and 5xx are transient, the rest fail the generation at once.
 */
export class OpenAiProvider implements ImageProvider {
  readonly name = 'openai';
  readonly capabilities: ProviderCapabilities;
  private readonly base: string;
  private readonly opts: OpenAiOptions;
  constructor(opts: OpenAiOptions) {
    this.opts = opts;
    this.base = opts.baseUrl.replace(/\/+$/, '');
    this.capabilities = openAiCapabilities(opts.tiers);
  }

  async render(req: RenderRequest): Promise<Buffer[]> {
    const size = `${req.width}x${req.height}`;
    const tier = this.opts.tiers[req.model as ImageModelId];
    if (!tier) throw new ProviderError('GENERATION_PROVIDER_REJECTED', `no model is configured for tier ${req.model}`, { retryable: false });
    const { model, quality } = tier;
    // gpt-image models always answer base64 and refuse response_format; older ones need it.
    const wantsFormat = OPENAI_MODELS[model]?.responseFormat ?? !model.startsWith('gpt-image');
    // The API refuses seed and negative prompts (the capability table says so, and the public API
    // refuses requests that name them before anything is held): neither is sent.
    let res: Response;
    try {
      if (req.references.length === 0) {
        res = await fetch(`${this.base}/images/generations`, {
          method: 'POST',
          headers: { authorization: `Bearer ${this.opts.apiKey}`, 'content-type': 'application/json' },
          body: JSON.stringify({ model, prompt: req.prompt, n: req.count, size, ...(quality ? { quality } : {}), ...(wantsFormat ? { response_format: 'b64_json' } : {}) }),
          signal: req.signal,
        });
      } else {
        const form = new FormData();
        form.set('model', model);
        form.set('prompt', req.prompt);
        form.set('n', String(req.count));
        form.set('size', size);
        if (quality) form.set('quality', quality);
        if (wantsFormat) form.set('response_format', 'b64_json');
        req.references.forEach((ref, i) => {
          const ext = MIME_EXT[ref.mime] ?? 'png';
          form.append(req.references.length > 1 ? 'image[]' : 'image', new Blob([new Uint8Array(ref.bytes)], { type: ref.mime }), `reference-${i}.${ext}`);
        });
        res = await fetch(`${this.base}/images/edits`, { method: 'POST', headers: { authorization: `Bearer ${this.opts.apiKey}` }, body: form, signal: req.signal });
      }
    } catch (err) {
      const name = (err as Error).name;
      if (name === 'AbortError' || name === 'TimeoutError') throw new ProviderError('GENERATION_PROVIDER_TIMEOUT', 'the image provider did not answer in time', { retryable: true, cause: err });
      throw new ProviderError('GENERATION_PROVIDER_UNREACHABLE', 'the image provider could not be reached', { retryable: true, cause: err });
    }
    if (!res.ok) throw await this.errorOf(res);
    const maxImage = this.opts.maxImageBytes ?? DEFAULT_MAX_IMAGE_BYTES;
    // base64 is 4/3 of the bytes; a little room for the JSON around the images.
    const text = (await readCapped(res, req.count * Math.ceil((maxImage * 4) / 3) + 64 * 1024)).toString('utf8');
    let body: ImagesResponse;
    try {
      body = JSON.parse(text) as ImagesResponse;
    } catch {
      body = {};
    }
    const items = body.data ?? [];
    if (items.length === 0) throw new ProviderError('GENERATION_PROVIDER_BAD_RESPONSE', 'the image provider returned no images', { retryable: true });
    const out: Buffer[] = [];
    for (const item of items.slice(0, req.count)) {
      if (item.b64_json) {
        const bytes = Buffer.from(item.b64_json, 'base64');
        if (bytes.length > maxImage) throw badResponse(`an image of ${bytes.length} bytes, more than the ${maxImage} allowed`, false);
        out.push(bytes);
      } else if (item.url) {
        out.push(await this.download(item.url, maxImage, req.signal));
      } else throw badResponse('an image without data', true);
    }
    return out;
  }

  /**
   * An image the provider answered by URL: only over https (or from the provider's own origin),
   * never following a redirect, within the size cap — the answer must not make the worker fetch
   * internal addresses (cloud metadata, other services) or unbounded bodies.
   */
  private async download(url: string, maxImage: number, signal: AbortSignal): Promise<Buffer> {
    let target: URL;
    try {
      target = new URL(url);
    } catch {
      throw badResponse('an image URL that is not a URL', false);
    }
    if (target.protocol !== 'https:' && target.origin !== new URL(this.base).origin) throw badResponse(`an image URL that is not https (${target.protocol})`, false);
    let img: Response;
    try {
      img = await fetch(target, { signal, redirect: 'error' });
    } catch (err) {
      throw new ProviderError('GENERATION_PROVIDER_UNREACHABLE', 'the image could not be downloaded', { retryable: true, cause: err });
    }
    if (!img.ok) throw badResponse(`image download answered ${img.status}`, true);
    return readCapped(img, maxImage);
  }

  private async errorOf(res: Response): Promise<ProviderError> {
    let body: ErrorBody = {};
    try {
      body = JSON.parse((await readCapped(res, MAX_ERROR_BODY_BYTES)).toString('utf8')) as ErrorBody;
    } catch {
      // not JSON, or too long: the status alone decides
    }
    const code = body.error?.code ?? body.error?.type ?? '';
    // The provider's message may quote the prompt; keep it out of our error text.
    const summary = `provider answered ${res.status}${code ? ` (${code})` : ''}`;
    // 429 and 503 may say when to come back (retry-after-ms / retry-after); the render worker's
    // retry then waits that long (capped) instead of its exponential backoff.
    const wait = retryAfterFromHeaders(res.headers);
    const retryAfterMs = wait !== undefined ? { retryAfterMs: wait } : {};
    if (res.status === 429) {
      const quota = code === 'insufficient_quota' || body.error?.type === 'insufficient_quota';
      return new ProviderError(quota ? 'GENERATION_PROVIDER_QUOTA' : 'GENERATION_PROVIDER_RATE_LIMITED', summary, { retryable: !quota, ...(quota ? {} : retryAfterMs) });
    }
    if (res.status >= 500) return new ProviderError('GENERATION_PROVIDER_UNAVAILABLE', summary, { retryable: true, ...retryAfterMs });
    if (res.status === 401 || res.status === 403) return new ProviderError('GENERATION_PROVIDER_AUTH', summary, { retryable: false });
    if (code === 'content_policy_violation' || code === 'moderation_blocked') return new ProviderError('GENERATION_PROVIDER_POLICY', summary, { retryable: false });
    return new ProviderError('GENERATION_PROVIDER_REJECTED', summary, { retryable: false });
  }
}
