// Entry point. OpenTelemetry's instrumentations (pg, ioredis, undici, BullMQ) patch those modules as
// they load, so they are registered first and the service is imported only then (dynamically: a static
// import would load pg and ioredis before this line runs). See @imlab/http/instrument.
import { instrument } from '@imlab/http/instrument';

instrument('generation');
await import('./serve.js');
