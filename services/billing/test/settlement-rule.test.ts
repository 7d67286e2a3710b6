import { describe, it, expect } from 'vitest';
import { deriveStatus, factsNetClawback, mergeDispute, planPostings, type RecordedPosting } from '../src/orders/settlement.service.js';
import type { DisputeRow } from '../src/orders/orders.repository.js';

// The settlement rule on its own, for every order in which Stripe may deliver a set of events:
// after each event the planner runs on the facts so far, as settleOrder does under the order lock.
// `refund` is a charge.refunded's cumulative amount (the largest seen counts); `refundNow` is the
// amount Stripe's refund list gives after a refund failed or was canceled (it can go down).
type Ev = { refund: number } | { refundNow: number } | { dispute: string; amount: number; status: string; reinstated?: boolean };

const ORDER = { id: '00000000-0000-7000-8000-000000000001', credits: 100, amount: 500, paid_amount: null as number | null };

function permutations<T>(xs: T[]): T[][] {
  if (xs.length <= 1) return [xs];
  return xs.flatMap((x, i) => permutations([...xs.slice(0, i), ...xs.slice(i + 1)]).map((p) => [x, ...p]));
}

function run(events: Ev[]) {
  let refunded = 0;
  const disputes = new Map<string, DisputeRow>();
  const recorded: RecordedPosting[] = [];
  const netOf = () => recorded.reduce((s, p) => s + (p.kind === 'clawback' ? p.credits : p.kind === 'restore' ? -p.credits : 0), 0);
  for (const ev of events) {
    if ('refund' in ev) refunded = Math.max(refunded, ev.refund);
    else if ('refundNow' in ev) refunded = ev.refundNow;
    else disputes.set(ev.dispute, mergeDispute(disputes.get(ev.dispute), { id: ev.dispute, order_id: ORDER.id, amount: ev.amount, status: ev.status, funds_reinstated: !!ev.reinstated }));
    const order = { ...ORDER, refunded_amount: refunded };
    const list = [...disputes.values()];
    const wanted = planPostings(order, list, recorded);
    for (const w of wanted) {
      expect(recorded.some((p) => p.idempotency_key === w.key)).toBe(false);
      expect(w.credits).toBeGreaterThan(0);
      recorded.push({ idempotency_key: w.key, kind: w.kind, cause: w.cause, credits: w.credits });
      // Never more taken than granted, never more given back than taken, at every step.
      expect(netOf()).toBeLessThanOrEqual(ORDER.credits);
      expect(netOf()).toBeGreaterThanOrEqual(0);
    }
    // A replay of the same facts derives nothing more.
    expect(planPostings(order, list, recorded)).toEqual([]);
    expect(netOf()).toBe(factsNetClawback(order, list));
  }
  for (const p of recorded.filter((x) => x.kind === 'restore' && x.cause === 'dispute')) {
    // A won dispute gives back exactly what its clawbacks (first take and top-ups) took.
    const base = p.idempotency_key.replace(/:restore$/, '');
    const took = recorded.filter((x) => x.kind === 'clawback' && (x.idempotency_key === base || x.idempotency_key.startsWith(`${base}:more:`))).reduce((a, x) => a + x.credits, 0);
    expect(p.credits).toBe(took);
  }
  return { net: netOf(), recorded };
}

describe('settlement rule: refunds and disputes together never take more than the pack', () => {
  const cases: [string, Ev[], number][] = [
    ['full refund and a lost dispute', [{ refund: 500 }, { dispute: 'dp_1', amount: 500, status: 'needs_response' }, { dispute: 'dp_1', amount: 500, status: 'lost' }], 100],
    ['two partial refunds and a lost dispute', [{ refund: 200 }, { refund: 400 }, { dispute: 'dp_1', amount: 500, status: 'needs_response' }, { dispute: 'dp_1', amount: 500, status: 'lost' }], 100],
    [
      'a partial refund and a partial dispute won with funds reinstated',
      [{ refund: 250 }, { dispute: 'dp_1', amount: 300, status: 'needs_response' }, { dispute: 'dp_1', amount: 300, status: 'under_review' }, { dispute: 'dp_1', amount: 300, status: 'won', reinstated: true }, { dispute: 'dp_1', amount: 300, status: 'won' }],
      50,
    ],
    ['a full refund and a won dispute', [{ refund: 500 }, { dispute: 'dp_1', amount: 500, status: 'needs_response' }, { dispute: 'dp_1', amount: 500, status: 'won' }], 100],
    ['a partial refund and an open dispute', [{ refund: 100 }, { refund: 300 }, { dispute: 'dp_1', amount: 400, status: 'needs_response' }], 100],
  ];
  for (const [name, events, net] of cases) {
    it(`${name}: every delivery order ends at a net clawback of ${net}`, () => {
      for (const order of permutations(events)) expect(run(order).net).toBe(net);
    });
  }

  it('replaying every event a second time sends nothing more', () => {
    const events: Ev[] = [{ dispute: 'dp_1', amount: 500, status: 'needs_response' }, { refund: 500 }, { dispute: 'dp_1', amount: 500, status: 'won' }];
    const once = run(events);
    const twice = run([...events, ...events]);
    expect(twice.recorded).toEqual(once.recorded);
  });

  it('refunds that fail (the refunded amount goes down) among refunds and disputes: the net always follows the facts', () => {
    // Deterministic pseudo-random sequences (a linear congruential generator), so a failure replays.
    let seed = 42;
    const next = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    const statuses = ['needs_response', 'under_review', 'won', 'lost'];
    for (let i = 0; i < 400; i++) {
      const events: Ev[] = [];
      const disputed = 100 * (1 + next(5)); // a dispute's amount is set when it opens
      for (let j = 0; j < 8; j++) {
        const pick = next(3);
        if (pick === 0) events.push({ refund: 50 * next(11) });
        else if (pick === 1) events.push({ refundNow: 50 * next(11) });
        else events.push({ dispute: 'dp_1', amount: disputed, status: statuses[next(4)]! });
      }
      // run() checks at every step: unique keys, 0 <= net <= pack, net = what the facts call for.
      run(events);
    }
  });

  it('a refund that fails gives back exactly what it took, and a new refund of the same amount takes it again under a new key', () => {
    const { recorded, net } = run([{ refund: 250 }, { refundNow: 0 }, { refund: 250 }, { refundNow: 250 }, { refundNow: 0 }, { refundNow: 250 }]);
    expect(recorded.map((p) => `${p.kind}:${p.credits}`)).toEqual(['grant:100', 'clawback:50', 'restore:50', 'clawback:50', 'restore:50', 'clawback:50']);
    expect(new Set(recorded.map((p) => p.idempotency_key)).size).toBe(recorded.length);
    expect(net).toBe(50);
  });
});

describe('shares of what Stripe charged', () => {
  // A 500 pack at an exclusive price: Stripe Tax adds 100, the charge is 600; refunds and disputes
  // are stated in the charge's money.
  const taxed = { ...ORDER, paid_amount: 600, status: 'paid' as const, paid_at: new Date() };

  it('a refund takes its share of the charge, not of the price: half the charge is half the credits', () => {
    const half = { ...taxed, refunded_amount: 300 };
    expect(planPostings(half, [], []).filter((w) => w.kind === 'clawback')).toEqual([{ key: `order:${ORDER.id}:refund:300`, kind: 'clawback', cause: 'refund', credits: 50 }]);
    expect(factsNetClawback(half, [])).toBe(50);
    expect(deriveStatus(half, [])).toBe('paid');
    // the price's worth (500 of 600) is not the whole order
    expect(factsNetClawback({ ...taxed, refunded_amount: 500 }, [])).toBe(83);
    expect(deriveStatus({ ...taxed, refunded_amount: 500 }, [])).toBe('paid');
    expect(deriveStatus({ ...taxed, refunded_amount: 600 }, [])).toBe('refunded');
    expect(factsNetClawback({ ...taxed, refunded_amount: 600 }, [])).toBe(100);
  });

  it('a dispute of the whole charge takes the whole pack; of the price only, its share', () => {
    const dispute = (amount: number) => mergeDispute(undefined, { id: 'dp_1', order_id: ORDER.id, amount, status: 'needs_response', funds_reinstated: false });
    expect(factsNetClawback({ ...taxed, refunded_amount: 0 }, [dispute(600)])).toBe(100);
    expect(factsNetClawback({ ...taxed, refunded_amount: 0 }, [dispute(300)])).toBe(50);
  });
});
