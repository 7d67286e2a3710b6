import type { Transaction } from '@imlab/db';
import type { Handlers } from '@imlab/queue';
import type { DB } from '../db.js';
import * as ledger from './ledger.service.js';

/** The bus hands us its transaction (the inbox row is in it); the ledger's effect joins it. */
const asTx = (tx: unknown) => tx as Transaction<DB>;

/** Inbox commands of the credits-ledger: validation happened in the bus (contracts schemas). */
export function ledgerHandlers(deps: ledger.LedgerDeps): Handlers {
  return {
    'ledger.grant': ({ tx, payload }) => ledger.grant(asTx(tx), deps, payload),
    'ledger.reserve': ({ tx, payload }) => ledger.reserve(asTx(tx), deps, payload),
    'ledger.capture': ({ tx, payload, message }) => ledger.capture(asTx(tx), deps, payload, new Date(message.occurredAt)),
    'ledger.release': ({ tx, payload }) => ledger.release(asTx(tx), deps, payload),
    'ledger.clawback': ({ tx, payload }) => ledger.clawback(asTx(tx), deps, payload),
    'ledger.restore': ({ tx, payload }) => ledger.restore(asTx(tx), deps, payload),
  };
}
