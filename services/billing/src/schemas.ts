import { Type } from '@sinclair/typebox';
import { Problem } from '@imlab/contracts';

/** The shared problem shape without its `$id`, so each route can embed it in its response schemas. */
export const ProblemBody = Type.Object({ ...Problem.properties }, { additionalProperties: true });

export const Currency = Type.String({ pattern: '^[a-z]{3}$', description: 'ISO 4217 code, lower case (`usd`); amounts are in its minor unit (cents).' });
