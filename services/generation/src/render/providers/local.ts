import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import sharp from 'sharp';
import type { ImageProvider, RenderRequest } from './provider.js';
import { ProviderError } from './provider.js';
import { localCapabilities, type ProviderCapabilities } from './capabilities.js';

/** A small deterministic PRNG (mulberry32) seeded from the request. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Paints an image from the prompt and seed (and blends any reference images over it, see render): a two-colour gradient and a few discs and bars
 * whose colours and places come from a hash, so different prompts look visibly different and the
 * same prompt + seed gives the same bytes. Offline, for development, tests and load tests.
 */
export function paint(req: Pick<RenderRequest, 'prompt' | 'negativePrompt' | 'model' | 'width' | 'height' | 'seed'>, index: number): Buffer {
  const digest = createHash('sha256').update(`${req.model}\n${req.prompt}\n${req.negativePrompt ?? ''}\n${req.seed}\n${index}`).digest();
  const rand = rng(digest.readUInt32BE(0));
  const { width: w, height: h } = req;
  const c1 = [digest[4]!, digest[5]!, digest[6]!];
  const c2 = [digest[7]!, digest[8]!, digest[9]!];
  const px = Buffer.alloc(w * h * 3);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const t = (x / w + y / h) / 2;
      const o = (y * w + x) * 3;
      px[o] = c1[0]! + (c2[0]! - c1[0]!) * t;
      px[o + 1] = c1[1]! + (c2[1]! - c1[1]!) * t;
      px[o + 2] = c1[2]! + (c2[2]! - c1[2]!) * t;
    }
  }
  const shapes = 3 + Math.floor(rand() * 5);
  for (let s = 0; s < shapes; s++) {
    const color = [Math.floor(rand() * 256), Math.floor(rand() * 256), Math.floor(rand() * 256)];
    const cx = Math.floor(rand() * w);
    const cy = Math.floor(rand() * h);
    const r = Math.floor((0.05 + rand() * 0.2) * Math.min(w, h));
    const disc = rand() < 0.6;
    for (let y = Math.max(0, cy - r); y < Math.min(h, cy + r); y++) {
      for (let x = Math.max(0, cx - r); x < Math.min(w, cx + r); x++) {
        if (disc && (x - cx) ** 2 + (y - cy) ** 2 > r * r) continue;
        const o = (y * w + x) * 3;
        px[o] = color[0]!;
        px[o + 1] = color[1]!;
        px[o + 2] = color[2]!;
      }
    }
  }
  return px;
}

/** How much of the result the reference images make up, together. */
const REFERENCE_WEIGHT = 0.5;

export class LocalProvider implements ImageProvider {
  readonly name = 'local';
  readonly capabilities: ProviderCapabilities = localCapabilities();
  private readonly renderMs: number;
  constructor(renderMs: number) {
    this.renderMs = renderMs;
  }

  async render(req: RenderRequest): Promise<Buffer[]> {
    if (this.renderMs > 0) {
      // The artificial render time in steps, each reported as progress (the last 10% are the painting).
      const steps = 4;
      for (let step = 0; step < steps; step++) {
        try {
          await sleep(this.renderMs / steps, undefined, { signal: req.signal });
        } catch (err) {
          throw new ProviderError('GENERATION_PROVIDER_TIMEOUT', 'the local renderer was aborted', { retryable: true, cause: err });
        }
        req.onProgress?.(Math.round(((step + 1) / steps) * 90));
      }
    }
    // Reference images, scaled to cover the canvas and laid over the painting translucently: the
    // result visibly follows them, and the same references + prompt + seed give the same bytes.
    const overlays = await Promise.all(
      req.references.map(async (ref) => ({
        input: await sharp(ref.bytes, { limitInputPixels: 64_000_000 })
          .resize(req.width, req.height, { fit: 'cover' })
          .removeAlpha()
          .ensureAlpha(REFERENCE_WEIGHT / req.references.length)
          .png()
          .toBuffer(),
      })),
    );
    const out: Buffer[] = [];
    for (let i = 0; i < req.count; i++) {
      req.signal.throwIfAborted();
      const raw = paint(req, i);
      let img = sharp(raw, { raw: { width: req.width, height: req.height, channels: 3 } });
      if (overlays.length) img = sharp(await img.composite(overlays).png().toBuffer()).removeAlpha();
      out.push(await img.png({ compressionLevel: 3 }).toBuffer());
      req.onProgress?.(90 + Math.round(((i + 1) / req.count) * 10));
    }
    return out;
  }
}
