import { retryAfterFromHeaders } from '@imlab/queue';
import type { ImageProvider, RenderRequest } from './provider.js';
import { ProviderError } from './provider.js';

export interface OpenAiOptions {
  apiKey: string;
  /** e.g. https://api.openai.com/v1, or a compatible self-hosted server. */
  baseUrl: string;
  model: string;
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
  private readonly base: string;
  constructor(private readonly opts: OpenAiOptions) {
    this.base = opts.baseUrl.replace(/\/+$/, '');
  }

  private prompt(req: RenderRequest): string {
    // The Images API has no negative prompt; say it in words.
    return req.negativePrompt ? `${req.prompt}\n\nAvoid: ${req.negativePrompt}` : req.prompt;
  }

  async render(req: RenderRequest): Promise<Buffer[]> {
    const size = `${req.width}x${req.height}`;
    // gpt-image models always answer base64 and refuse response_format; older ones need it.
    const wantsFormat = !this.opts.model.startsWith('gpt-image');
    let res: Response;
    try {
      if (req.references.length === 0) {
        res = await fetch(`${this.base}/images/generations`, {
          method: 'POST',
          headers: { authorization: `Bearer ${this.opts.apiKey}`, 'content-type': 'application/json' },
          body: JSON.stringify({ model: this.opts.model, prompt: this.prompt(req), n: req.count, size, ...(wantsFormat ? { response_format: 'b64_json' } : {}) }),
          signal: req.signal,
        });
      } else {
        const form = new FormData();
        form.set('model', this.opts.model);
        form.set('prompt', this.prompt(req));
        form.set('n', String(req.count));
        form.set('size', size);
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
    const body = (await res.json().catch(() => ({}))) as ImagesResponse;
    const items = body.data ?? [];
    if (items.length === 0) throw new ProviderError('GENERATION_PROVIDER_BAD_RESPONSE', 'the image provider returned no images', { retryable: true });
    const out: Buffer[] = [];
    for (const item of items.slice(0, req.count)) {
      if (item.b64_json) out.push(Buffer.from(item.b64_json, 'base64'));
      else if (item.url) {
        const img = await fetch(item.url, { signal: req.signal });
        if (!img.ok) throw new ProviderError('GENERATION_PROVIDER_BAD_RESPONSE', `image download answered ${img.status}`, { retryable: true });
        out.push(Buffer.from(await img.arrayBuffer()));
      } else throw new ProviderError('GENERATION_PROVIDER_BAD_RESPONSE', 'an image without data', { retryable: true });
    }
    return out;
  }

  private async errorOf(res: Response): Promise<ProviderError> {
    const body = (await res.json().catch(() => ({}))) as ErrorBody;
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
