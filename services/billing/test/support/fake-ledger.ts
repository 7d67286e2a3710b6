import { notYet, type Bus, type Worker } from '@imlab/queue';
import { AppError } from '@imlab/http';

export interface LedgerCommand {
  kind: 'grant' | 'clawback' | 'restore';
  idempotencyKey: string;
  userId: string;
  amount: number;
  after?: string;
}

/**
 * A small stand-in for the credits ledger: consumes the real `credits-ledger` queue, keeps
 * balances and debts, dedupes by idempotency key like the ledger does (and records any key reused
 * with a different amount as a conflict), and emits `ledger.posted` back to billing with the
 * ledger's meaning of amount/debt: a clawback reports what it took and what became debt, a
 * restore what it credited and what debt it cancelled.
 */
export function startFakeLedger(bus: Bus): {
  commands: LedgerCommand[];
  applied: LedgerCommand[];
  conflicts: string[];
  duplicates: string[];
  /** Commands that arrived before the posting they name as `after` (and were retried). */
  outOfOrder: string[];
  balance(userId: string): number;
  debt(userId: string): number;
  spend(userId: string, credits: number): void;
  /** Keys the fake acknowledges but never reports back (to provoke reconciliation mismatches). */
  silent: Set<string>;
  /** key → other key: deliveries of `key` fail (retryably) until `other` has been delivered, so it overtakes. */
  failUntilSeen: Map<string, string>;
  worker: Worker;
} {
  const commands: LedgerCommand[] = [];
  const applied: LedgerCommand[] = [];
  const conflicts: string[] = [];
  const duplicates: string[] = [];
  const outOfOrder: string[] = [];
  const seen = new Map<string, LedgerCommand>();
  const balances = new Map<string, number>();
  const debts = new Map<string, number>();
  const silent = new Set<string>();
  const failUntilSeen = new Map<string, string>();

  const handle = (kind: LedgerCommand['kind']) =>
    async ({ tx, payload }: { tx: Parameters<Bus['send']>[0]; payload: { idempotencyKey: string; userId: string; amount: number; after?: string } }) => {
      const cmd: LedgerCommand = { kind, idempotencyKey: payload.idempotencyKey, userId: payload.userId, amount: payload.amount, ...(payload.after ? { after: payload.after } : {}) };
      commands.push(cmd);
      const awaited = failUntilSeen.get(cmd.idempotencyKey);
      if (awaited !== undefined) {
        if (!commands.some((c) => c.idempotencyKey === awaited)) throw new Error(`fake ledger: fails until ${awaited} was delivered (test asked for it)`);
        failUntilSeen.delete(cmd.idempotencyKey);
      }
      // Like the ledger: a command that names a predecessor not posted yet is retried later.
      if (payload.after !== undefined && !seen.has(payload.after)) {
        outOfOrder.push(cmd.idempotencyKey);
        throw notYet(new AppError('LEDGER_POSTING_OUT_OF_ORDER', { message: `waits for ${payload.after}`, retryable: true }), 250);
      }
      const before = seen.get(cmd.idempotencyKey);
      if (before) {
        duplicates.push(cmd.idempotencyKey);
        if (before.amount !== cmd.amount || before.kind !== cmd.kind || before.userId !== cmd.userId) conflicts.push(cmd.idempotencyKey);
        return { duplicate: true };
      }
      seen.set(cmd.idempotencyKey, cmd);
      applied.push(cmd);
      const available = balances.get(cmd.userId) ?? 0;
      let amount = cmd.amount;
      let debt = 0;
      if (kind === 'grant') balances.set(cmd.userId, available + cmd.amount);
      else if (kind === 'restore') {
        // Like the ledger: a restore first cancels what the person still owes, then credits the rest.
        const owed = debts.get(cmd.userId) ?? 0;
        debt = Math.min(owed, cmd.amount);
        amount = cmd.amount - debt;
        debts.set(cmd.userId, owed - debt);
        balances.set(cmd.userId, available + amount);
      } else {
        amount = Math.min(available, cmd.amount);
        debt = cmd.amount - amount;
        balances.set(cmd.userId, available - amount);
        debts.set(cmd.userId, (debts.get(cmd.userId) ?? 0) + debt);
      }
      if (!silent.has(cmd.idempotencyKey)) {
        await bus.send(tx, 'ledger.posted', { idempotencyKey: cmd.idempotencyKey, kind, userId: cmd.userId, amount, debt, reference: 'fake-ledger' });
      }
      return { amount, debt };
    };

  const worker = bus.consume('credits-ledger', {
    'ledger.grant': handle('grant'),
    'ledger.clawback': handle('clawback'),
    'ledger.restore': handle('restore'),
  });

  return {
    commands,
    applied,
    conflicts,
    duplicates,
    outOfOrder,
    balance: (u) => balances.get(u) ?? 0,
    debt: (u) => debts.get(u) ?? 0,
    spend(u, n) {
      const b = balances.get(u) ?? 0;
      if (b < n) throw new Error('fake ledger: not enough credits to spend');
      balances.set(u, b - n);
    },
    silent,
    failUntilSeen,
    worker,
  };
}
