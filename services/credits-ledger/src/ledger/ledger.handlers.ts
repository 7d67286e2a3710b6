import { withGroup, type Handlers } from '@imlab/queue';
import type { DB } from '../db.js';
import * as ledger from './ledger.service.js';

/** Inbox commands of the credits-ledger: validation happened in the bus (contracts schemas); each effect joins the bus's transaction (the inbox row is in it). */
export function ledgerHandlers(deps: ledger.LedgerDeps): Handlers<DB> {
  return {
    // A run of grants in one group is posted by one database call.
    'ledger.grant': withGroup(
      ({ tx, payload }) => ledger.grant(tx, deps, payload),
      ({ tx, items }) => ledger.grants(tx, deps, items.map((i) => i.payload)),
    ),
    'ledger.reserve': ({ tx, payload }) => ledger.reserve(tx, deps, payload),
    'ledger.capture': ({ tx, payload, message }) => ledger.capture(tx, deps, payload, new Date(message.occurredAt)),
    'ledger.release': ({ tx, payload }) => ledger.release(tx, deps, payload),
    'ledger.clawback': ({ tx, payload }) => ledger.clawback(tx, deps, payload),
    'ledger.restore': ({ tx, payload }) => ledger.restore(tx, deps, payload),
  };
}
