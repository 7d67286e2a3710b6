import { UUID_RE, errorMessage, isGenerationEndCode, type GenerationEndCode, type Locale } from '@imlab/contracts';
import type { Db } from '@imlab/db';
import type { DB, TransferKind } from '../db.js';
import { findUserAccounts } from '../ledger/ledger.repository.js';
import { listAvailableMovements, type MovementRow } from './credits.repository.js';

/** What a line of the history is, as a person thinks of it (the ledger's transfer kinds, grouped). */
export const MOVEMENT_KINDS = ['purchase', 'bonus', 'goodwill', 'generation', 'refund', 'clawback', 'restore'] as const;
export type MovementKind = (typeof MOVEMENT_KINDS)[number];

export interface Movement {
  id: string;
  kind: MovementKind;
  /** Signed change to the available balance. */
  amount: number;
  /** Why credits came back (the registered code the generation ended with), or null. */
  reason: GenerationEndCode | null;
  generationId: string | null;
  orderId: string | null;
  description: string;
  reference: string | null;
  createdAt: string;
}

/** The references generation and billing give their commands: `generation:<id>`, `order:<id>`. */
const GENERATION_REF = /^generation:([0-9a-f-]{36})$/i;
const ORDER_REF = /^order:(.{1,190})$/;

/** The kind a transfer of the available account is shown as. */
const KIND_OF: Record<TransferKind, MovementKind> = {
  grant_purchase: 'purchase',
  grant_promo: 'bonus',
  grant_goodwill: 'goodwill',
  reserve: 'generation',
  release: 'refund',
  expire: 'refund',
  capture_return: 'refund',
  clawback: 'clawback',
  // a refund's or dispute's credits taken when a hold returned them (they were held when it came)
  debt_repay: 'clawback',
  restore: 'restore',
  // These never move the available balance (held → consumed, debt ↔ issuance): listed for completeness.
  capture: 'generation',
  clawback_debt: 'clawback',
  restore_debt: 'restore',
};

/**
 * Why a hold came back, as a registered code. Generation releases with the code the generation
 * failed with (GENERATION_RENDER_ERROR, GENERATION_PROVIDER_…), or with `canceled` /
 * `hold-expired`; the ledger's own sweep records `expired`. Anything else has no reason to show.
 */
export function refundReason(kind: TransferKind, recorded: string | null): GenerationEndCode | null {
  if (kind === 'expire') return 'GENERATION_HOLD_EXPIRED';
  if (kind !== 'release' || !recorded) return null;
  if (recorded === 'canceled' || recorded === 'cancelled') return 'GENERATION_CANCELED';
  if (recorded === 'hold-expired' || recorded === 'expired') return 'GENERATION_HOLD_EXPIRED';
  return isGenerationEndCode(recorded) ? recorded : null;
}

const NUMBER = { en: new Intl.NumberFormat('en-US'), zh: new Intl.NumberFormat('zh-CN') };
const credits = (n: number, locale: Locale) => (locale === 'zh' ? `${NUMBER.zh.format(n)} 积分` : `${NUMBER.en.format(n)} credit${n === 1 ? '' : 's'}`);

/** A registered message as a clause after "Refund — ": no full stop, and in English no capital. */
function clause(code: GenerationEndCode, locale: Locale): string {
  const text = errorMessage(code, locale).replace(/[.。]$/, '');
  return locale === 'en' ? text.charAt(0).toLowerCase() + text.slice(1) : text;
}

const TEXT = {
  en: {
    purchase: (n: number) => `Credit purchase — ${credits(n, 'en')}`,
    signupBonus: (n: number) => `Sign-up bonus — ${credits(n, 'en')}`,
    bonus: (n: number) => `Bonus credits — ${credits(n, 'en')}`,
    goodwill: (n: number) => `Goodwill credits from our support team — ${credits(n, 'en')}`,
    generation: (n: number) => `Image generation — ${credits(n, 'en')}`,
    refund: (why: string) => `Refund — ${why}`,
    notCompleted: 'the generation did not complete',
    undelivered: 'credits for images that were not delivered',
    clawback: (n: number) => `Payment reversed — ${credits(n, 'en')} taken back`,
    restore: (n: number) => `Credits restored — ${credits(n, 'en')} given back`,
  },
  zh: {
    purchase: (n: number) => `购买积分 — ${credits(n, 'zh')}`,
    signupBonus: (n: number) => `注册奖励 — ${credits(n, 'zh')}`,
    bonus: (n: number) => `赠送积分 — ${credits(n, 'zh')}`,
    goodwill: (n: number) => `客服补偿积分 — ${credits(n, 'zh')}`,
    generation: (n: number) => `图像生成 — ${credits(n, 'zh')}`,
    refund: (why: string) => `退款 — ${why}`,
    notCompleted: '生成未完成',
    undelivered: '未交付图像的积分',
    clawback: (n: number) => `付款已撤销 — 收回 ${credits(n, 'zh')}`,
    restore: (n: number) => `积分已恢复 — 退回 ${credits(n, 'zh')}`,
  },
} satisfies Record<Locale, unknown>;

/**
 * What a person reads in their history: the kind, why (a registered code, never shown raw), what
 * it was for (the generation or the order), and a sentence in their language.
 */
export function describe(row: MovementRow, locale: Locale): Pick<Movement, 'kind' | 'reason' | 'generationId' | 'orderId' | 'description'> {
  const kind = KIND_OF[row.kind];
  const reason = refundReason(row.kind, row.reason);
  const ref = row.reference ?? '';
  // A hold is keyed by its generation's id; grants, clawbacks and restores name their order.
  const forGeneration = kind === 'generation' || kind === 'refund';
  const generationId = forGeneration ? (row.hold_id ?? GENERATION_REF.exec(ref)?.[1] ?? null) : null;
  const orderId = forGeneration ? null : (ORDER_REF.exec(ref)?.[1] ?? null);
  const t = TEXT[locale];
  let description: string;
  switch (kind) {
    case 'purchase':
      description = t.purchase(row.amount);
      break;
    case 'bonus':
      description = ref === 'signup-bonus' ? t.signupBonus(row.amount) : t.bonus(row.amount);
      break;
    case 'goodwill':
      description = t.goodwill(row.amount);
      break;
    case 'generation':
      description = t.generation(row.amount);
      break;
    case 'refund':
      description = t.refund(reason ? clause(reason, locale) : row.kind === 'capture_return' ? t.undelivered : t.notCompleted);
      break;
    case 'clawback':
      description = t.clawback(row.amount);
      break;
    case 'restore':
      description = t.restore(row.amount);
      break;
  }
  return { kind, reason, generationId, orderId, description };
}

/** Owner ids are UUIDs; any other subject simply owns nothing here (never a database cast error). */
const accountsOf = (db: Db<DB>, userId: string) => (UUID_RE.test(userId) ? findUserAccounts(db, userId) : Promise.resolve(undefined));

export async function balanceOf(db: Db<DB>, userId: string): Promise<{ available: number; held: number }> {
  const acc = await accountsOf(db, userId);
  return { available: acc?.available ?? 0, held: acc?.held ?? 0 };
}

export function encodeCursor(id: number): string {
  return Buffer.from(`t:${id}`).toString('base64url');
}

/** undefined when the cursor is not one we issued. */
export function decodeCursor(cursor: string): number | undefined {
  const m = /^t:(\d{1,15})$/.exec(Buffer.from(cursor, 'base64url').toString());
  return m ? Number(m[1]) : undefined;
}

export async function movementsOf(db: Db<DB>, userId: string, beforeId: number | null, limit: number, locale: Locale): Promise<{ items: Movement[]; nextCursor: string | null }> {
  const acc = await accountsOf(db, userId);
  if (!acc) return { items: [], nextCursor: null };
  const rows = await listAvailableMovements(db, acc.availableId, beforeId, limit + 1);
  const page = rows.slice(0, limit);
  return {
    items: page.map((r) => ({
      id: encodeCursor(r.id),
      ...describe(r, locale),
      amount: r.outgoing ? -r.amount : r.amount,
      reference: r.reference,
      createdAt: r.created_at.toISOString(),
    })),
    nextCursor: rows.length > limit && page.length > 0 ? encodeCursor(page[page.length - 1]!.id) : null,
  };
}
