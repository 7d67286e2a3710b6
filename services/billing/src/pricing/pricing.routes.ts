import { Type } from '@sinclair/typebox';
import type { App } from '@imlab/http';
import { catalogDocument } from '@imlab/contracts';
import type { Pack } from './catalog.js';
import { Currency } from '../schemas.js';

const PackView = Type.Object({
  id: Type.String(),
  credits: Type.Integer(),
  price: Type.Integer({ description: "in the currency's minor unit" }),
  currency: Currency,
  name: Type.Object({ en: Type.String(), zh: Type.String() }),
});

/** Per-image costs from the generation catalog in contracts (owned by generation). */
const ImageCosts = Type.Object(
  {
    models: Type.Array(
      Type.Object(
        {
          id: Type.String(),
          label: Type.String(),
          description: Type.String(),
          creditsPerImage: Type.Integer(),
          largeImageSurcharge: Type.Integer(),
          acceptsReferences: Type.Boolean(),
        },
        { additionalProperties: true },
      ),
    ),
    sizes: Type.Array(Type.String()),
    aspectRatios: Type.Record(Type.String(), Type.String()),
    largeImagePixels: Type.Integer(),
    maxImagesPerGeneration: Type.Integer(),
    maxReferenceImages: Type.Integer(),
  },
  { additionalProperties: true },
);

/** GET /v1/pricing: public, no token. */
export function registerPricingRoutes(app: App, packs: readonly Pack[]): void {
  const body = {
    packs: packs.map((p) => ({ id: p.id, credits: p.credits, price: p.price, currency: p.currency, name: { ...p.name } })),
    imageCosts: catalogDocument(),
  };
  app.get(
    '/v1/pricing',
    {
      schema: {
        tags: ['billing'],
        summary: 'Credit packs on sale and what an image costs',
        response: { 200: Type.Object({ packs: Type.Array(PackView), imageCosts: ImageCosts }) },
      },
    },
    async (_request, reply) => {
      reply.header('cache-control', 'public, max-age=300');
      return body;
    },
  );
}
