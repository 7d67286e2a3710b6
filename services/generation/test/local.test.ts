import { describe, it, expect } from 'vitest';
import sharp from 'sharp';
import { LocalProvider } from '../src/render/providers/index.js';

const base = { prompt: 'a lighthouse', negativePrompt: null, model: 'imlab-standard', width: 64, height: 48, count: 1, seed: 3, references: [] as { bytes: Buffer; mime: string }[] };
const signal = () => AbortSignal.timeout(5000);
const meanColour = async (png: Buffer) => (await sharp(png).stats()).channels.slice(0, 3).map((c) => c.mean);

describe('local provider', () => {
  it('uses reference images: the result moves towards them, and the same references give the same bytes', async () => {
    const provider = new LocalProvider(0);
    const [plain] = await provider.render({ ...base, signal: signal() });
    const red = await sharp({ create: { width: 20, height: 30, channels: 3, background: '#ff0000' } }).jpeg().toBuffer();
    const [withRed] = await provider.render({ ...base, references: [{ bytes: red, mime: 'image/jpeg' }], signal: signal() });
    const [again] = await provider.render({ ...base, references: [{ bytes: red, mime: 'image/jpeg' }], signal: signal() });
    expect(withRed!.equals(plain!)).toBe(false);
    expect(withRed!.equals(again!)).toBe(true);
    expect(await sharp(withRed!).metadata()).toMatchObject({ width: 64, height: 48, channels: 3 });
    const [r0, g0, b0] = await meanColour(plain!);
    const [r1, g1, b1] = await meanColour(withRed!);
    // Half of the picture is the red reference.
    expect(r1!).toBeCloseTo(r0! / 2 + 255 / 2, -1);
    expect(g1!).toBeCloseTo(g0! / 2, -1);
    expect(b1!).toBeCloseTo(b0! / 2, -1);
    // A different reference, a different picture.
    const blue = await sharp({ create: { width: 8, height: 8, channels: 4, background: '#0000ff80' } }).png().toBuffer();
    const [withBlue] = await provider.render({ ...base, references: [{ bytes: blue, mime: 'image/png' }], signal: signal() });
    expect(withBlue!.equals(withRed!)).toBe(false);
  });

  it('reports progress as it renders, ending at 100', async () => {
    const seen: number[] = [];
    await new LocalProvider(80).render({ ...base, count: 2, signal: signal(), onProgress: (p) => seen.push(p) });
    expect(seen).toEqual([23, 45, 68, 90, 95, 100]);
  });
});
