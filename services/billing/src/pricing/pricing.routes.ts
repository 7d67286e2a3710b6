import { Type } from '@sinclair/typebox';
import type { App } from '@imlab/http';
import type { Pack } from './catalog.js';
import { Currency } from '../schemas.js';

const PackView = Type.Object({
  id: Type.String(),
  credits: Type.Integer(),
  price: Type.Integer({ description: 'in the currency\'s minor unit' }),
  currency: Currency,
  name: Type.Object({ en: Type.String(), zh: Type.String() }),
});

/** GET /v1/pricing: public, no token. */
export function registerPricingRoutes(app: App, packs: readonly Pack[]): void {
  const body = { packs: packs.map((p) => ({ id: p.id, credits: p.credits, price: p.price, currency: p.currency, name: { ...p.name } })) };
  app.get(
    '/v1/pricing',
    {
      schema: {
        tags: ['billing'],
        summary: 'Credit packs on sale',
        response: { 200: Type.Object({ packs: Type.Array(PackView) }) },
      },
    },
    async (_request, reply) => {
      reply.header('cache-control', 'public, max-age=300');
      return body;
    },
  );
}
