import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

export interface GenerationMetrics {
  renderDuration: Histogram<'outcome'>;
  enqueueToStart: Histogram;
  providerErrors: Counter<'provider' | 'code'>;
  refunds: Counter<'reason'>;
  uncharged: Counter;
  storageDeletionFailures: Counter;
  /** Content policy refusals of creations and publications, by rule (a moderation flag is `moderation:<category>`). */
  policyRefusals: Counter<'check' | 'rule'>;
  moderationOutages: Counter<'check' | 'outcome'>;
}

/** Generation's own metrics on the app's registry (queue depth comes from bus.registerMetrics). */
export function createMetrics(registry: Registry): GenerationMetrics {
  return {
    renderDuration: new Histogram({
      name: 'imlab_generation_render_duration_seconds',
      help: 'Render job duration by outcome',
      labelNames: ['outcome'],
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120],
      registers: [registry],
    }),
    enqueueToStart: new Histogram({
      name: 'imlab_generation_enqueue_to_start_seconds',
      help: 'Time from queued to a worker starting the render',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers: [registry],
    }),
    providerErrors: new Counter({ name: 'imlab_generation_provider_errors_total', help: 'Provider errors by code', labelNames: ['provider', 'code'], registers: [registry] }),
    refunds: new Counter({ name: 'imlab_generation_refunds_total', help: 'Holds released instead of captured, by reason', labelNames: ['reason'], registers: [registry] }),
    uncharged: new Counter({
      name: 'imlab_generation_uncharged_total',
      help: 'Succeeded generations whose hold the ledger expired before the capture arrived (delivered, never paid for)',
      registers: [registry],
    }),
    storageDeletionFailures: new Counter({
      name: 'imlab_generation_storage_deletion_failures_total',
      help: 'Times storage failed to delete objects whose rows are gone (retried by the sweep)',
      registers: [registry],
    }),
    policyRefusals: new Counter({ name: 'imlab_generation_policy_refusals_total', help: 'Creations and publications refused by the content policy or the moderation model, by rule', labelNames: ['check', 'rule'], registers: [registry] }),
    moderationOutages: new Counter({
      name: 'imlab_generation_moderation_outages_total',
      help: 'Times the moderation endpoint could not answer, by check (create, publish) and what was done (allowed, refused)',
      labelNames: ['check', 'outcome'],
      registers: [registry],
    }),
  };
}

/** Set by the sweep, so registered only by the process that runs it (the generation API). */
export function createSweepMetrics(registry: Registry): { storageDeletionsPending: Gauge } {
  return {
    storageDeletionsPending: new Gauge({
      name: 'imlab_generation_storage_deletions_pending',
      help: 'Recorded object deletions that are due or failed before, as of the last sweep (the same count on every API replica)',
      registers: [registry],
    }),
  };
}
