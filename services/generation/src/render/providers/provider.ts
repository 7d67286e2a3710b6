import type { CodeWithStatus } from '@imlab/contracts';
import { AppError } from '@imlab/http';
import type { ProviderCapabilities } from './capabilities.js';

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
  /** Called with 0–100 as the render advances, by providers that report progress. */
  onProgress?: (percent: number) => void;
}

export interface ImageProvider {
  readonly name: string;
  /** What it renders, per tier (./capabilities.ts). */
  readonly capabilities: ProviderCapabilities;
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
