/**
 * One message hop at idle, stage by stage (#22: where create → succeeded's time goes). A message is
 * written to the generation service's outbox in a transaction (its NOTIFY trigger wakes the relay,
 * as for every command a service sends), relayed to BullMQ by the real relay and picked up by an
 * inbox consumer (Bus.consume: the inbox record and the handler in one transaction), one at a time
 * with a pause between, BENCH_HOPS (200) times; then the same with BullMQ's worker alone
 * (Bus.worker, no inbox), to tell BullMQ's share from the inbox's. For each: the sender's commit (BEGIN, the outbox
 * INSERT, COMMIT), commit → picked up (the relay wakes, claims the row, addBulk; a BullMQ worker
 * takes the job: its `processedOn`), picked up → handler (the inbox transaction begins and records
 * the message), and when the relay marked the row sent (`sent_at`). `processedOn` and `sent_at` are
 * whole milliseconds (Redis' and Node's clocks, one machine): means, which average the rounding
 * out, stand beside the medians.
 *
 *   pnpm --filter @imlab/bench hop
 *
 * Private database and queue prefix, removed at the end. Writes the "One hop at idle" section of
 * docs/benchmarks.md.
 */
import { randomBytes } from 'node:crypto';
import { dropDatabase, sql } from '@imlab/db';
import { databaseUrlFor } from '@imlab/config';
import { SERVER, ms, machine, pct, sleep, writeSection, generationContext } from './support/common.js';

const HOPS = Number(process.env.BENCH_HOPS ?? 200);
const USER = '0190f5f0-0000-7000-8000-000000000001';
const tag = randomBytes(3).toString('hex');
const databaseName = `imlab_bench_hop_${tag}`;
const now = () => performance.timeOrigin + performance.now();

const { load, cores } = machine();
const at = new Date().toISOString().slice(0, 16);
const ctx = await generationContext(databaseName, `bench-hop-${tag}`, 4);
type Row = { commit: number; pickup: number; stamped: number; handler: number; total: number };
/**
 * The consumers, one after the other on the same queue: the service's inbox, BullMQ's worker alone
 * (Bus.worker), both at the services' concurrency (4 here), and BullMQ's worker alone at
 * concurrency 1 (with more, BullMQ's fetch loop asks Redis for a second job before it starts the
 * first: one more moveToActive round trip at idle).
 */
const results: Record<'inbox' | 'raw' | 'single', Row[]> = { inbox: [], raw: [], single: [] };
try {
  const entered = new Map<string, { at: number; done: () => void }>();
  const arrived = ({ message }: { message: { id: string } }) => {
    const e = entered.get(message.id);
    if (e) {
      e.at = now();
      e.done();
    }
    return Promise.resolve({});
  };
  await ctx.bus.startRelay();
  const queue = ctx.bus.queue('credits-ledger');
  for (const mode of ['raw', 'single', 'inbox'] as const) {
    const worker =
      mode === 'inbox'
        ? ctx.bus.consume('credits-ledger', { 'ledger.grant': arrived } as never, { concurrency: 4 })
        : ctx.bus.worker('credits-ledger', arrived, { concurrency: mode === 'single' ? 1 : 4 });
    await sleep(1000);
    for (let i = 0; i < HOPS + 10; i++) {
      let done!: () => void;
      const handled = new Promise<void>((r) => (done = r));
      const t0 = now();
      let id = '';
      await ctx.db.transaction().execute(async (tx) => {
        id = await ctx.bus.send(tx, 'ledger.grant', { idempotencyKey: `hop-${mode}-${i}`, userId: USER, amount: 1, source: 'promo', reference: 'bench-hop' } as never);
        entered.set(id, { at: 0, done });
      });
      const t1 = now();
      await handled;
      const t3 = entered.get(id)!.at;
      let sent = 0;
      while (!sent) {
        await sleep(2);
        sent = (await sql<{ sent_at: Date | null }>`select sent_at from outbox where id = ${id}`.execute(ctx.db)).rows[0]!.sent_at?.getTime() ?? 0;
      }
      const picked = (await queue.getJob(id))!.processedOn!;
      // the first ten warm the connections and the scripts up
      if (i >= 10) results[mode].push({ commit: t1 - t0, pickup: picked - t1, stamped: sent - t1, handler: t3 - picked, total: t3 - t0 });
      await sleep(20);
    }
    await worker.close();
  }
} finally {
  await ctx.close();
  await dropDatabase(databaseUrlFor(SERVER, databaseName)).catch(() => undefined);
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const cell = (rows: Row[], k: keyof Row) => {
  const xs = rows.map((r) => r[k]);
  return `${ms(mean(xs))} / ${ms(pct(xs, 50))} / ${ms(pct(xs, 99))}`;
};
const line = (name: string, k: keyof Row) => `| ${name} | ${cell(results.inbox, k)} | ${cell(results.raw, k)} | ${cell(results.single, k)} |`;
const text = `## One hop at idle (#22)

\`pnpm --filter @imlab/bench hop\` (bench/hop.ts), run ${at}Z on ${cores} CPU cores (load average ${load.toFixed(1)} at the start),
${results.inbox.length} messages one at a time per consumer: the generation service's outbox (NOTIFY on commit) → the relay → BullMQ →
the service's inbox consumer (\`Bus.consume\`), then the same with BullMQ's worker alone (\`Bus.worker\`: no inbox transaction),
both at concurrency 4, and BullMQ's worker alone at concurrency 1.

| stage (ms: mean / p50 / p99) | inbox consumer | BullMQ worker alone | BullMQ worker alone, concurrency 1 |
|---|---|---|---|
${line('the sender commits (BEGIN, outbox INSERT, COMMIT)', 'commit')}
${line('commit → picked up (the relay woken by NOTIFY claims the row and publishes it with addBulk; a BullMQ worker moves it to active)', 'pickup')}
${line('picked up → handler (the job back in Node, the envelope checked; with the inbox: its transaction begun, the message recorded)', 'handler')}
${line('**write → handler, in all**', 'total')}
${line('(commit → the relay marks the row sent, after addBulk answered)', 'stamped')}
`;
const file = await writeSection('hop', text);
process.stdout.write(`${text}\n(written to ${file})\n`);
process.exit(0);
