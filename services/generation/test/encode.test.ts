import { describe, it, expect } from 'vitest';
import sharp from 'sharp';
import { encodeForStorage, THUMB_SIZE } from '../src/render/encode.js';

/** `width`×`height` scaled to fit within THUMB_SIZE × THUMB_SIZE (sharp's `inside`). */
const within = (width: number, height: number) => {
  const scale = Math.min(THUMB_SIZE / width, THUMB_SIZE / height);
  return { width: Math.round(width * scale), height: Math.round(height * scale) };
};
import { paint } from '../src/render/providers/local.js';

/** A provider's 8-bit RGB PNG of another size than asked, carrying EXIF, an ICC profile and XMP. */
async function providerPng(width: number, height: number): Promise<Buffer> {
  const raw = paint({ prompt: 'a harbour at dusk', negativePrompt: null, model: 'imlab-standard', width, height, seed: 9 }, 0);
  return sharp(raw, { raw: { width, height, channels: 3 } })
    .withMetadata({ exif: { IFD0: { Copyright: 'provider-marker', ImageDescription: 'a prompt someone wrote' } } })
    .withIccProfile('srgb')
    .withXmp('<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"/></x:xmpmeta>')
    .png()
    .toBuffer();
}

describe('encodeForStorage: what the render worker stores of a provider image', () => {
  it('a PNG of exactly the asked size, without the provider’s metadata, and a WebP thumbnail within THUMB_SIZE', async () => {
    const input = await providerPng(300, 200);
    expect((await sharp(input).metadata()).exif).toBeDefined();
    const { png, thumb } = await encodeForStorage(input, 512, 768);
    const meta = await sharp(png).metadata();
    expect(meta).toMatchObject({ format: 'png', width: 512, height: 768, channels: 3, depth: 'uchar' });
    expect(meta.exif).toBeUndefined();
    expect(meta.icc).toBeUndefined();
    expect(meta.xmp).toBeUndefined();
    expect(png.includes('provider-marker')).toBe(false);
    const t = await sharp(thumb).metadata();
    expect(t).toMatchObject({ format: 'webp', width: THUMB_SIZE * (512 / 768), height: THUMB_SIZE });
    expect(t.exif).toBeUndefined();
  });

  it('stores the same PNG bytes as decoding and re-encoding the provider’s image in one pipeline', async () => {
    const input = await providerPng(512, 512);
    const { png } = await encodeForStorage(input, 512, 512);
    expect(png.equals(await sharp(input).resize(512, 512, { fit: 'cover' }).png().toBuffer())).toBe(true);
  });

  it('makes a thumbnail with the stored image’s framing, also when the provider sent another shape', async () => {
    for (const [from, to] of [
      [[512, 512], [512, 512]],
      [[300, 200], [512, 768]],
      [[640, 360], [512, 512]],
    ] as const) {
      const { png, thumb } = await encodeForStorage(await providerPng(from[0], from[1]), to[0], to[1]);
      expect(await sharp(thumb).metadata()).toMatchObject(within(to[0], to[1]));
      // Its pixels match a thumbnail made from the stored PNG (WebP is lossy: compared on the
      // decoded pixels, within a small error).
      const fromPng = await sharp(png).resize(THUMB_SIZE, THUMB_SIZE, { fit: 'inside' }).removeAlpha().raw().toBuffer();
      const ours = await sharp(thumb).removeAlpha().raw().toBuffer();
      expect(ours.length).toBe(fromPng.length);
      let diff = 0;
      for (let i = 0; i < ours.length; i++) diff += Math.abs(ours[i]! - fromPng[i]!);
      expect(diff / ours.length, `${from.join('x')} → ${to.join('x')}`).toBeLessThan(3);
    }
  });

  it('keeps transparency and stores 8 bits per channel from a 16-bit RGBA PNG', async () => {
    const input = await sharp({ create: { width: 64, height: 64, channels: 4, background: { r: 10, g: 200, b: 30, alpha: 0.5 } } })
      .png({ force: true })
      .toColourspace('rgb16')
      .toBuffer();
    expect((await sharp(input).metadata()).depth).toBe('ushort');
    const { png } = await encodeForStorage(input, 32, 32);
    const meta = await sharp(png).metadata();
    expect(meta).toMatchObject({ width: 32, height: 32, channels: 4, depth: 'uchar', hasAlpha: true });
    const { channels } = await sharp(png).stats();
    expect(channels[3]!.mean).toBeCloseTo(128, -1);
    expect(channels[1]!.mean).toBeCloseTo(200, -1);
  });

  it('refuses what is not an image, and an image past the pixel limit, rather than storing anything', async () => {
    await expect(encodeForStorage(Buffer.from('<html>not an image</html>'), 64, 64)).rejects.toThrow();
    // 9000 × 9000 = 81 megapixels, over the 64 the worker decodes
    const huge = await sharp({ create: { width: 9000, height: 9000, channels: 3, background: '#808080' } }).png({ compressionLevel: 9 }).toBuffer();
    await expect(encodeForStorage(huge, 64, 64)).rejects.toThrow(/pixel limit/i);
  });
});
