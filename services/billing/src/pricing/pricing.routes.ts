import { Type } from '@sinclair/typebox';
import { operation, type App } from '@imlab/http';
import { catalogDocument, ref } from '@imlab/contracts';
import type { Pack } from './catalog.js';
import { Currency } from '../schemas.js';

const PackView = Type.Object(
  {
    id: Type.String({ description: 'Pass as `packId` to `POST /v1/billing/checkout`.' }),
    credits: Type.Integer(),
    price: Type.Integer({ description: "in the currency's minor unit" }),
    currency: Currency,
    name: Type.Object({ en: Type.String(), zh: Type.String() }),
  },
  { $id: 'CreditPack', description: 'A pack of credits on sale.' },
);

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
  { $id: 'ImageCosts', additionalProperties: true, description: 'What an image costs: credits per image by model, plus a surcharge above `largeImagePixels`.' },
);

const TaxTerms = Type.Object(
  {
    pricesInclude: Type.Boolean({ description: 'true: the prices include tax (nothing is added at checkout); false: tax is added at checkout where it applies.' }),
    calculatedAtCheckout: Type.Boolean({ description: 'Stripe Tax works out the tax for the buyer\'s address at checkout.' }),
  },
  { $id: 'TaxTerms', description: 'How tax relates to the prices shown (`PRICES_TAX_BEHAVIOR`, `STRIPE_AUTOMATIC_TAX`).' },
);

const Pricing = Type.Object(
  { packs: Type.Array(ref(PackView)), imageCosts: ref(ImageCosts), tax: ref(TaxTerms) },
  {
    $id: 'Pricing',
    examples: [
      {
        packs: [{ id: 'starter', credits: 100, price: 500, currency: 'usd', name: { en: 'Starter pack', zh: '入门包' } }],
        tax: { pricesInclude: true, calculatedAtCheckout: false },
        imageCosts: {
          models: [{ id: 'imlab-standard', label: 'Standard', description: 'Balanced quality for most work.', creditsPerImage: 2, largeImageSurcharge: 1, acceptsReferences: true }],
          sizes: ['512x512', '1024x1024', '1536x1024'],
          aspectRatios: { '1:1': '1024x1024', '3:2': '1536x1024' },
          largeImagePixels: 1100000,
          maxImagesPerGeneration: 4,
          maxReferenceImages: 4,
        },
      },
    ],
  },
);
/** The pricing route's components, registered with the app. */
export const pricingSchemas = [PackView, ImageCosts, TaxTerms, Pricing];

/** GET /v1/pricing: public, no token. */
export function registerPricingRoutes(app: App, packs: readonly Pack[], tax: { behavior: 'inclusive' | 'exclusive'; automatic: boolean }): void {
  const body = {
    packs: packs.map((p) => ({ id: p.id, credits: p.credits, price: p.price, currency: p.currency, name: { ...p.name } })),
    imageCosts: catalogDocument(),
    tax: { pricesInclude: tax.behavior === 'inclusive', calculatedAtCheckout: tax.automatic },
  };
  app.get(
    '/v1/pricing',
    {
      schema: {
        ...operation('getPricing', {
          tag: 'billing',
          access: 'public',
          summary: 'Credit packs and prices',
          description: 'The credit packs on sale with their prices, whether those include tax, and what an image costs by model and size.',
        }),
        response: { 200: ref(Pricing, { description: 'Packs and image costs' }) },
      },
    },
    async (_request, reply) => {
      reply.header('cache-control', 'public, max-age=300');
      return body;
    },
  );
}
