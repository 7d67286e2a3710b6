import { Type } from '@sinclair/typebox';
import { command, event } from './define.js';
import { Uuid } from './common.js';

export const generationMessages = {
  /** Consumed only by the render worker entry point. */
  /** userId only lets a worker clear what an earlier attempt left once the row is gone (purged). */
  'generation.render': command('generation-render', Type.Object({ generationId: Uuid, userId: Type.Optional(Uuid) }, { additionalProperties: false })),
  'generation.finished': event(
    ['notification'],
    Type.Object(
      {
        generationId: Uuid,
        userId: Uuid,
        status: Type.Union([Type.Literal('succeeded'), Type.Literal('failed'), Type.Literal('canceled'), Type.Literal('rejected')]),
        refunded: Type.Boolean(),
        errorCode: Type.Optional(Type.String()),
      },
      { additionalProperties: false },
    ),
  ),
};
