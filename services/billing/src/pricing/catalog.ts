import { Type, type Static } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';

export const PackSchema = Type.Object(
  {
    id: Type.String({ pattern: '^[a-z0-9][a-z0-9-]{0,39}$' }),
    credits: Type.Integer({ minimum: 1, maximum: 10_000_000 }),
    /** Price in the currency's minor unit (cents, fen). */
    price: Type.Integer({ minimum: 1, maximum: 100_000_000 }),
    currency: Type.String({ pattern: '^[a-z]{3}$' }),
    name: Type.Object({ en: Type.String({ minLength: 1, maxLength: 80 }), zh: Type.String({ minLength: 1, maxLength: 80 }) }, { additionalProperties: false }),
  },
  { additionalProperties: false },
);
export type Pack = Static<typeof PackSchema>;

const PacksSchema = Type.Array(PackSchema, { minItems: 1, maxItems: 50 });
const check = TypeCompiler.Compile(PacksSchema);

/** The catalog used when PRICING_PACKS is not set. */
export const DEFAULT_PACKS: readonly Pack[] = Object.freeze([
  { id: 'starter', credits: 100, price: 500, currency: 'usd', name: { en: 'Starter pack', zh: '入门包' } },
  { id: 'creator', credits: 500, price: 2000, currency: 'usd', name: { en: 'Creator pack', zh: '创作者包' } },
  { id: 'studio', credits: 1500, price: 5000, currency: 'usd', name: { en: 'Studio pack', zh: '工作室包' } },
]);

/** Parses and validates PRICING_PACKS; throws one message naming every problem. */
export function parsePricingPacks(input: string): readonly Pack[] {
  let value: unknown;
  try {
    value = JSON.parse(input);
  } catch {
    throw new Error('must be a JSON array of packs');
  }
  if (!check.Check(value)) {
    const problems = [...check.Errors(value)].slice(0, 5).map((e) => `${e.path || '/'} ${e.message}`);
    throw new Error(`invalid pack list: ${problems.join('; ')}`);
  }
  const seen = new Set<string>();
  for (const p of value) {
    if (seen.has(p.id)) throw new Error(`duplicate pack id "${p.id}"`);
    seen.add(p.id);
  }
  return Object.freeze(value.map((p) => Object.freeze({ ...p, name: Object.freeze({ ...p.name }) })));
}

/** Credits matching `amount` of an order's price, rounded down (a partial refund never takes back more than it paid for). */
export function creditsFor(amount: number, orderAmount: number, orderCredits: number): number {
  const a = Math.min(Math.max(amount, 0), orderAmount);
  return Math.floor((orderCredits * a) / orderAmount);
}
