/**
 * The one price catalog for generations. Generation prices every quote and create from it; billing
 * shows it on GET /v1/pricing. Prices are whole credits per image; changing a number here changes
 * what people pay, so it is a product decision, not a refactor.
 */

export interface ImageModel {
  /** Shown to people. */
  label: string;
  description: string;
  /** Credits for one image up to LARGE_IMAGE_PIXELS. */
  creditsPerImage: number;
  /** Extra credits for one image above LARGE_IMAGE_PIXELS. */
  largeImageSurcharge: number;
  /** Whether reference images (edits) are accepted. */
  acceptsReferences: boolean;
}

export const IMAGE_MODELS = {
  'imlab-draft': {
    label: 'Draft',
    description: 'Fast sketches to explore an idea.',
    creditsPerImage: 1,
    largeImageSurcharge: 1,
    acceptsReferences: false,
  },
  'imlab-standard': {
    label: 'Standard',
    description: 'Balanced quality for most work.',
    creditsPerImage: 2,
    largeImageSurcharge: 1,
    acceptsReferences: true,
  },
  'imlab-pro': {
    label: 'Pro',
    description: 'Highest detail, slower.',
    creditsPerImage: 4,
    largeImageSurcharge: 2,
    acceptsReferences: true,
  },
} as const satisfies Record<string, ImageModel>;

export type ImageModelId = keyof typeof IMAGE_MODELS;
export const IMAGE_MODEL_IDS = Object.keys(IMAGE_MODELS) as ImageModelId[];
export const DEFAULT_IMAGE_MODEL: ImageModelId = 'imlab-standard';

/** Sizes offered, as `WIDTHxHEIGHT`; the aspect ratios below map onto them. */
export const IMAGE_SIZES = ['512x512', '768x768', '1024x1024', '1536x1024', '1024x1536', '1344x768', '768x1344'] as const;
export type ImageSize = (typeof IMAGE_SIZES)[number];

export const ASPECT_RATIOS = {
  '1:1': '1024x1024',
  '3:2': '1536x1024',
  '2:3': '1024x1536',
  '16:9': '1344x768',
  '9:16': '768x1344',
} as const satisfies Record<string, ImageSize>;
export type AspectRatio = keyof typeof ASPECT_RATIOS;
export const DEFAULT_IMAGE_SIZE: ImageSize = '1024x1024';

/** Images with more pixels than this carry the model's large-image surcharge. */
export const LARGE_IMAGE_PIXELS = 1_100_000;
export const MAX_IMAGES_PER_GENERATION = 4;
export const MAX_REFERENCE_IMAGES = 4;

export function parseSize(size: ImageSize): { width: number; height: number } {
  const [w, h] = size.split('x').map(Number);
  return { width: w!, height: h! };
}

/** Credits for `count` images of `size` with `model`. */
export function priceOf(model: ImageModelId, size: ImageSize, count: number): { creditsPerImage: number; cost: number } {
  const m: ImageModel = IMAGE_MODELS[model];
  const { width, height } = parseSize(size);
  const creditsPerImage = m.creditsPerImage + (width * height > LARGE_IMAGE_PIXELS ? m.largeImageSurcharge : 0);
  return { creditsPerImage, cost: creditsPerImage * count };
}

/** The catalog as a plain document (billing's GET /v1/pricing). */
export function catalogDocument() {
  return {
    models: IMAGE_MODEL_IDS.map((id) => ({ id, ...IMAGE_MODELS[id] })),
    sizes: [...IMAGE_SIZES],
    aspectRatios: ASPECT_RATIOS,
    largeImagePixels: LARGE_IMAGE_PIXELS,
    maxImagesPerGeneration: MAX_IMAGES_PER_GENERATION,
    maxReferenceImages: MAX_REFERENCE_IMAGES,
  };
}
