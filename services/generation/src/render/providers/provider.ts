import type { CodeWithStatus } from '@imlab/contracts';
import { AppError } from '@imlab/http';

export interface RenderRequest {
  prompt: string;
  negativePrompt: string | null;
  model: string;
  width: number;
  height: number;
  count: number;
  seed: number;
  /** Re-encoded reference uploads (PNG, JPEG or WebP bytes). */
  references: { bytes: Buffer; mime: string }[];
  signal: AbortSignal;
}

export interface ImageProvider {
  readonly name: string;
  /** Raw images in any format sharp reads; the worker re-encodes them. */
  render(req: RenderRequest): Promise<Buffer[]>;
}

/** Why a render failed (all 502: the image service failed, not the person's request). */
export type ProviderErrorCode = Extract<CodeWithStatus<502>, `GENERATION_${string}`>;

/**
 * A provider failure. `retryable` decides between a retry with backoff (rate limits, 5xx,
 * timeouts, network) and failing the generation at once (policy, bad request, auth).
 */
export class ProviderError extends AppError<ProviderErrorCode> {
  readonly retryAfterMs: number | undefined;
  constructor(code: ProviderErrorCode, message: string, opts: { retryable: boolean; retryAfterMs?: number; cause?: unknown }) {
    super(code, { message, retryable: opts.retryable, cause: opts.cause });
    this.retryAfterMs = opts.retryAfterMs;
  }
}
