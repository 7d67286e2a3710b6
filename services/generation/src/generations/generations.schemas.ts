import { Type, type Static } from '@sinclair/typebox';
import { ASPECT_RATIOS, IdempotencyKey, IMAGE_MODEL_IDS, IMAGE_SIZES, MAX_IMAGES_PER_GENERATION, MAX_REFERENCE_IMAGES, Page, Problem, ref, StringEnum } from '@imlab/contracts';
import type { GenerationRow, GenerationStatus, ImageRow } from '../db.js';

/** The longest prompt accepted, in characters (code points); PROMPT_MAX_CHARS may only lower it. */
export const PROMPT_SCHEMA_MAX_CHARS = 2000;

const STATUSES: readonly GenerationStatus[] = ['reserving', 'queued', 'running', 'succeeded', 'failed', 'canceled', 'rejected'];
const EXAMPLE_ID = '0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a80';
const EXAMPLE_IMAGE_ID = '0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a81';

export const GenerationRequest = Type.Object(
  {
    // The published limit. The service checks PROMPT_MAX_CHARS (at most this) again after
    // normalising whitespace (GENERATION_PROMPT_TOO_LONG when configured lower).
    prompt: Type.String({ minLength: 1, maxLength: PROMPT_SCHEMA_MAX_CHARS, description: 'What to render: at most 2,000 characters.' }),
    // null (what a generation's view shows when there is none) means none.
    negativePrompt: Type.Optional(Type.Union([Type.String({ maxLength: 2000 }), Type.Null()])),
    model: Type.Optional(StringEnum(IMAGE_MODEL_IDS)),
    aspectRatio: Type.Optional(StringEnum(Object.keys(ASPECT_RATIOS) as (keyof typeof ASPECT_RATIOS)[])),
    size: Type.Optional(StringEnum(IMAGE_SIZES)),
    count: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_IMAGES_PER_GENERATION })),
    seed: Type.Optional(Type.Integer({ minimum: 0, maximum: 4294967295 })),
    referenceUploadIds: Type.Optional(Type.Array(Type.String({ format: 'uuid' }), { maxItems: MAX_REFERENCE_IMAGES, uniqueItems: true, description: 'Uploads (`POST /v1/uploads`) to guide the image; only models that take references.' })),
  },
  {
    $id: 'GenerationRequest',
    additionalProperties: false,
    description: 'What to render. `aspectRatio` picks a size, `size` names one (given both, they must agree); model, size and count decide the cost (see `GET /v1/pricing`).',
    examples: [{ prompt: 'a lighthouse in fog, watercolor', model: 'imlab-standard', aspectRatio: '1:1', count: 1, seed: 7 }],
  },
);
export type GenerationRequest = Static<typeof GenerationRequest>;

export const Quote = Type.Object(
  {
    model: Type.String(),
    size: Type.String(),
    width: Type.Integer(),
    height: Type.Integer(),
    count: Type.Integer(),
    creditsPerImage: Type.Integer(),
    cost: Type.Integer({ description: 'Credits the generation holds when created, and is charged once it succeeds.' }),
  },
  {
    $id: 'GenerationQuote',
    description: 'What a generation of this request would cost; nothing is created or held.',
    examples: [{ model: 'imlab-standard', size: '1024x1024', width: 1024, height: 1024, count: 1, creditsPerImage: 2, cost: 2 }],
  },
);

const Status = StringEnum(STATUSES, {
  description: 'reserving → queued → running → succeeded | failed | canceled, or reserving → rejected when the credits do not cover it.',
});

export const Accepted = Type.Object(
  {
    id: Type.String({ format: 'uuid' }),
    status: Status,
    cost: Type.Integer(),
    size: Type.String({ description: 'The size that will be rendered (`WIDTHxHEIGHT`): for an aspect ratio, the nearest the model really renders.' }),
    width: Type.Integer(),
    height: Type.Integer(),
  },
  {
    $id: 'GenerationAccepted',
    description: 'The generation is created; follow it at `GET /v1/generations/{id}` or its event stream.',
    examples: [{ id: EXAMPLE_ID, status: 'queued', cost: 2, size: '1024x1024', width: 1024, height: 1024 }],
  },
);

const TierOptions = Type.Object(
  {
    id: Type.String({ description: 'Pass as `model`.' }),
    label: Type.String(),
    description: Type.String(),
    creditsPerImage: Type.Integer(),
    largeImageSurcharge: Type.Integer(),
    sizes: Type.Array(
      Type.Object({ size: Type.String(), width: Type.Integer(), height: Type.Integer(), creditsPerImage: Type.Integer() }),
      { description: 'The sizes this tier renders (only these are accepted as `size`), with the credits per image of each.' },
    ),
    aspectRatios: Type.Record(Type.String(), Type.String(), { description: 'Each aspect ratio and the size it renders here (the nearest the model makes).' }),
    maxCount: Type.Integer({ description: 'Most images in one generation.' }),
    seed: Type.Boolean({ description: 'Whether `seed` is accepted (the same seed gives the same image).' }),
    negativePrompt: Type.Boolean({ description: 'Whether `negativePrompt` is accepted.' }),
    references: Type.Union([Type.Object({ max: Type.Integer(), formats: Type.Array(Type.String()) }), Type.Null()], {
      description: 'Reference images: how many and which upload types; null when the tier takes none.',
    }),
    progress: Type.Boolean({ description: 'Whether the event stream reports `progress` while rendering.' }),
  },
  { $id: 'GenerationTierOptions' },
);

export const GenerationOptions = Type.Object(
  { tiers: Type.Array(ref(TierOptions)) },
  {
    $id: 'GenerationOptions',
    description: 'What each tier (`model`) offers with the image service configured now: a request outside it is refused with 422 `GENERATION_UNSUPPORTED_OPTION` before anything is held.',
    examples: [
      {
        tiers: [
          {
            id: 'imlab-standard',
            label: 'Standard',
            description: 'Balanced quality for most work.',
            creditsPerImage: 2,
            largeImageSurcharge: 1,
            sizes: [{ size: '1024x1024', width: 1024, height: 1024, creditsPerImage: 2 }],
            aspectRatios: { '1:1': '1024x1024', '16:9': '1536x1024' },
            maxCount: 4,
            seed: false,
            negativePrompt: false,
            references: { max: 4, formats: ['image/png', 'image/jpeg', 'image/webp'] },
            progress: false,
          },
        ],
      },
    ],
  },
);

export const ImageView = Type.Object(
  {
    id: Type.String({ format: 'uuid' }),
    url: Type.String({ description: 'The PNG (`GET /v1/images/{id}`).' }),
    thumbUrl: Type.String({ description: 'The WebP thumbnail.' }),
    width: Type.Integer(),
    height: Type.Integer(),
    published: Type.Boolean({ description: 'In the public gallery.' }),
  },
  { $id: 'Image', description: 'A generated image.' },
);

export const GenerationView = Type.Object(
  {
    id: Type.String({ format: 'uuid' }),
    status: Status,
    prompt: Type.String(),
    negativePrompt: Type.Union([Type.String(), Type.Null()]),
    model: Type.String(),
    width: Type.Integer(),
    height: Type.Integer(),
    count: Type.Integer(),
    seed: Type.Integer(),
    referenceUploadIds: Type.Array(Type.String()),
    cost: Type.Integer(),
    errorCode: Type.Union([Type.String(), Type.Null()], { description: 'Why it failed, was canceled or rejected (`GENERATION_CANCELED`, `LEDGER_INSUFFICIENT_CREDITS`, …).' }),
    createdAt: Type.String({ format: 'date-time' }),
    startedAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
    finishedAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
    images: Type.Array(ref(ImageView), { description: 'Once succeeded: the images (fewer than `count` when some were deleted).' }),
  },
  {
    $id: 'Generation',
    examples: [
      {
        id: EXAMPLE_ID,
        status: 'succeeded',
        prompt: 'a lighthouse in fog, watercolor',
        negativePrompt: null,
        model: 'imlab-standard',
        width: 1024,
        height: 1024,
        count: 1,
        seed: 7,
        referenceUploadIds: [],
        cost: 2,
        errorCode: null,
        createdAt: '2026-11-03T10:00:00.000Z',
        startedAt: '2026-11-03T10:00:01.200Z',
        finishedAt: '2026-11-03T10:00:09.800Z',
        images: [{ id: EXAMPLE_IMAGE_ID, url: `/v1/images/${EXAMPLE_IMAGE_ID}`, thumbUrl: `/v1/images/${EXAMPLE_IMAGE_ID}/thumb`, width: 1024, height: 1024, published: false }],
      },
    ],
  },
);
export type GenerationView = Static<typeof GenerationView>;

export const GenerationPage = Page('GenerationPage', ref(GenerationView), { description: "One page of the person's generations, newest first." });
export const IdParams = Type.Object({ id: Type.String({ format: 'uuid' }) });
export const PageQuery = Type.Object({
  cursor: Type.Optional(Type.String({ description: 'The `nextCursor` of the previous page; empty or absent for the first.' })),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: 20 })),
});
export const IdempotencyHeaders = Type.Object({
  'idempotency-key': Type.Optional(IdempotencyKey('Repeating a request with the same key answers its first result again (per person).')),
});
export const ProblemRef = Problem;

/** The generation routes' components, registered with the app. */
export const generationSchemas = [GenerationRequest, Quote, Accepted, TierOptions, GenerationOptions, ImageView, GenerationView, GenerationPage];

export function imageView(img: ImageRow): Static<typeof ImageView> {
  return {
    id: img.id,
    url: `/v1/images/${img.id}`,
    thumbUrl: `/v1/images/${img.id}/thumb`,
    width: img.width,
    height: img.height,
    published: img.published_at !== null,
  };
}

export function generationView(g: GenerationRow, images: ImageRow[]): GenerationView {
  return {
    id: g.id,
    status: g.status,
    prompt: g.prompt,
    negativePrompt: g.negative_prompt,
    model: g.model,
    width: g.width,
    height: g.height,
    count: g.count,
    seed: g.seed,
    referenceUploadIds: g.reference_upload_ids,
    cost: g.cost,
    errorCode: g.error_code,
    createdAt: g.created_at.toISOString(),
    startedAt: g.started_at?.toISOString() ?? null,
    finishedAt: g.finished_at?.toISOString() ?? null,
    images: images.filter((i) => i.generation_id === g.id).map(imageView),
  };
}
