import { IMAGE_MODEL_IDS, IMAGE_MODELS, IMAGE_SIZES, MAX_IMAGES_PER_GENERATION, MAX_REFERENCE_IMAGES, type ImageModelId } from '@imlab/contracts';

/**
 * What a provider really does, per tier: the table the public API and the quote read, so a
 * request the configured provider cannot do is refused before anything is held, and a frontend
 * can offer only what works (GET /v1/generations/options).
 */
export interface TierCapabilities {
  /** The provider's model behind this tier (for the local renderer: `local`). */
  providerModel: string;
  /** The provider's quality setting for this tier, when it has one. */
  quality: string | null;
  /** Sizes (`WIDTHxHEIGHT`) this tier renders and the API sells; an aspect ratio maps to the nearest. */
  sizes: string[];
  /** Most images in one request. */
  maxCount: number;
  /** Whether the same seed gives the same image. */
  seed: boolean;
  /** Whether a negative prompt is honoured (sent as such). */
  negativePrompt: boolean;
  /** Reference images: how many, which formats; null = none taken. */
  references: { max: number; formats: string[] } | null;
  /** Whether the provider reports render progress. */
  progress: boolean;
}

export interface ProviderCapabilities {
  provider: string;
  tiers: Record<ImageModelId, TierCapabilities>;
}

const SOLD = IMAGE_SIZES as readonly string[];
const REFERENCE_FORMATS = ['image/png', 'image/jpeg', 'image/webp'];

/** The local renderer paints any size, any seed, and blends reference images in. */
export function localCapabilities(): ProviderCapabilities {
  const tiers = {} as Record<ImageModelId, TierCapabilities>;
  for (const id of IMAGE_MODEL_IDS) {
    tiers[id] = {
      providerModel: 'local',
      quality: null,
      sizes: [...SOLD],
      maxCount: MAX_IMAGES_PER_GENERATION,
      seed: true,
      negativePrompt: true,
      references: IMAGE_MODELS[id].acceptsReferences ? { max: MAX_REFERENCE_IMAGES, formats: REFERENCE_FORMATS } : null,
      progress: true,
    };
  }
  return { provider: 'local', tiers };
}

/**
 * The models of the OpenAI Images API and what each accepts (platform.openai.com/docs/api-reference/images):
 * sizes, `n`, `quality` values, and whether /images/edits takes the model with several images.
 * A model not in this table (a compatible server's own names) is refused at start-up rather than
 * guessed: add it here with what it really accepts.
 */
export interface OpenAiModelSpec {
  sizes: string[];
  maxN: number;
  qualities: string[];
  /** /images/edits: most images and their formats; null = the model does not edit. */
  edits: { max: number; formats: string[] } | null;
  /** gpt-image models always answer base64 and refuse `response_format`. */
  responseFormat: boolean;
}

export const OPENAI_MODELS: Record<string, OpenAiModelSpec> = {
  'gpt-image-1': {
    sizes: ['1024x1024', '1536x1024', '1024x1536'],
    maxN: 10,
    qualities: ['low', 'medium', 'high', 'auto'],
    edits: { max: 16, formats: REFERENCE_FORMATS },
    responseFormat: false,
  },
  'gpt-image-1-mini': {
    sizes: ['1024x1024', '1536x1024', '1024x1536'],
    maxN: 10,
    qualities: ['low', 'medium', 'high', 'auto'],
    edits: { max: 16, formats: REFERENCE_FORMATS },
    responseFormat: false,
  },
  'dall-e-3': { sizes: ['1024x1024', '1792x1024', '1024x1792'], maxN: 1, qualities: ['standard', 'hd'], edits: null, responseFormat: true },
  'dall-e-2': { sizes: ['256x256', '512x512', '1024x1024'], maxN: 10, qualities: ['standard'], edits: { max: 1, formats: ['image/png'] }, responseFormat: true },
};

export interface OpenAiTier {
  model: string;
  quality: string | null;
}

export type OpenAiTiers = Record<ImageModelId, OpenAiTier>;

export function openAiCapabilities(tiers: OpenAiTiers): ProviderCapabilities {
  const out = {} as Record<ImageModelId, TierCapabilities>;
  for (const id of IMAGE_MODEL_IDS) {
    const { model, quality } = tiers[id];
    const spec = OPENAI_MODELS[model];
    if (!spec) throw new Error(`unknown OpenAI image model ${model}`);
    const edits = IMAGE_MODELS[id].acceptsReferences ? spec.edits : null;
    out[id] = {
      providerModel: model,
      quality,
      // Only sizes the API sells: a model's other sizes (dall-e-3's 1792) are not offered.
      sizes: spec.sizes.filter((s) => SOLD.includes(s)),
      maxCount: Math.min(spec.maxN, MAX_IMAGES_PER_GENERATION),
      // The Images API has no seed and no negative prompt.
      seed: false,
      negativePrompt: false,
      references: edits ? { max: Math.min(edits.max, MAX_REFERENCE_IMAGES), formats: [...edits.formats] } : null,
      progress: false,
    };
  }
  return { provider: 'openai', tiers: out };
}

/** Problems with a tier mapping (start-up refuses them): unknown models, qualities the model does not take, a tier with no size. */
export function openAiTierProblems(tiers: OpenAiTiers, allowSharedModel: boolean): Record<string, string> {
  const problems: Record<string, string> = {};
  for (const id of IMAGE_MODEL_IDS) {
    const suffix = id.replace('imlab-', '').toUpperCase();
    const { model, quality } = tiers[id];
    const spec = OPENAI_MODELS[model];
    if (!spec) {
      problems[`OPENAI_MODEL_${suffix}`] = `${model} is not a known Images API model (known: ${Object.keys(OPENAI_MODELS).join(', ')})`;
      continue;
    }
    if (quality !== null && !spec.qualities.includes(quality)) problems[`OPENAI_QUALITY_${suffix}`] = `${model} takes quality ${spec.qualities.join(', ')}, not ${quality}`;
    if (!spec.sizes.some((s) => SOLD.includes(s))) problems[`OPENAI_MODEL_${suffix}`] = `${model} renders none of the sizes the API sells`;
  }
  if (!allowSharedModel) {
    for (const [i, a] of IMAGE_MODEL_IDS.entries()) {
      for (const b of IMAGE_MODEL_IDS.slice(i + 1)) {
        const ta = tiers[a];
        const tb = tiers[b];
        if (ta.model === tb.model && (ta.quality ?? '') === (tb.quality ?? '') && IMAGE_MODELS[a].creditsPerImage !== IMAGE_MODELS[b].creditsPerImage) {
          const key = `OPENAI_MODEL_${b.replace('imlab-', '').toUpperCase()}`;
          problems[key] =
            `${IMAGE_MODELS[b].label} (${IMAGE_MODELS[b].creditsPerImage} credits) would render with the same model and quality as ${IMAGE_MODELS[a].label} (${IMAGE_MODELS[a].creditsPerImage} credits): ${ta.model}${ta.quality ? ` quality ${ta.quality}` : ''}; set OPENAI_ALLOW_SHARED_TIER_MODEL=true if that is meant`;
        }
      }
    }
  }
  return problems;
}

export function parseSizeString(size: string): { width: number; height: number } {
  const [w, h] = size.split('x').map(Number);
  return { width: w!, height: h! };
}

/**
 * The size a tier renders that is nearest to an aspect ratio: the closest ratio (log scale, so
 * 2:1 and 1:2 are as far from 1:1), then the pixel count nearest to the catalog's size for it.
 */
export function nearestSize(sizes: readonly string[], aspect: { w: number; h: number }, preferPixels: number): string {
  const target = Math.log(aspect.w / aspect.h);
  let best = sizes[0]!;
  let bestScore = Infinity;
  for (const s of sizes) {
    const { width, height } = parseSizeString(s);
    const ratio = Math.abs(Math.log(width / height) - target);
    const pixels = Math.abs(Math.log((width * height) / preferPixels));
    const score = ratio * 1000 + pixels;
    if (score < bestScore) {
      bestScore = score;
      best = s;
    }
  }
  return best;
}
