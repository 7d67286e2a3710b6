import sharp from 'sharp';

/** The longest side of a stored thumbnail. */
export const THUMB_SIZE = 384;
/**
 * libwebp's effort for thumbnails (0–6; sharp's default is 4). At 2 a 384 px thumbnail takes about
 * half the time of 4 and is ~5 % larger (docs/benchmarks.md, "Generation": the encode, measured alone).
 */
export const THUMB_WEBP_EFFORT = 2;

/** Pixels a provider's image may have: enough for its largest size with room to spare. */
const INPUT_PIXEL_LIMIT = 64_000_000;

/**
 * Whatever a provider sent, as what is stored: a PNG of exactly `width`×`height` (scaled to cover,
 * 8 bits per channel, no metadata) and a WebP thumbnail of it within THUMB_SIZE. The provider's
 * image is decoded and scaled once; the PNG and the thumbnail are encoded from those pixels side
 * by side (two of libuv's threads), so the slower of the two sets the time, not their sum.
 */
export async function encodeForStorage(bytes: Buffer, width: number, height: number): Promise<{ png: Buffer; thumb: Buffer }> {
  const { data, info } = await sharp(bytes, { limitInputPixels: INPUT_PIXEL_LIMIT })
    .resize(width, height, { fit: 'cover' })
    .raw({ depth: 'uchar' })
    .toBuffer({ resolveWithObject: true });
  const pixels = () => sharp(data, { raw: { width: info.width, height: info.height, channels: info.channels } });
  const [png, thumb] = await Promise.all([
    pixels().png().toBuffer(),
    pixels().resize(THUMB_SIZE, THUMB_SIZE, { fit: 'inside' }).webp({ quality: 75, effort: THUMB_WEBP_EFFORT }).toBuffer(),
  ]);
  return { png, thumb };
}
