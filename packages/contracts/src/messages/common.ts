import { Type, type Static } from '@sinclair/typebox';

export const Uuid = Type.String({ format: 'uuid' });
export const Locale = Type.Union([Type.Literal('en'), Type.Literal('zh')]);
/** The two languages the product speaks: English and Chinese (Simplified). */
export type Locale = Static<typeof Locale>;
export const PositiveInt = Type.Integer({ minimum: 1 });
export const NonNegativeInt = Type.Integer({ minimum: 0 });
export const IsoDate = Type.String({ format: 'date-time' });
/** HMAC-SHA256 hex of an IP or user agent; never the raw value. */
export const Hash = Type.String({ pattern: '^[0-9a-f]{64}$' });
