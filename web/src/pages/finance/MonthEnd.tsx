import { useEffect, useRef, useState } from 'react';
import { useMutation, type UseMutationResult } from '@tanstack/react-query';
import { useTranslation } from 'react-i18next';
import { Field, FormAlert } from '../../components/Form';
import { failureOf } from '../../api';
import { saveFile } from '../../api/account';
import { closeMonth, getMonthEnd, importStripe, lookupBooks, MONTH_END_CSVS, type LedgerPeriodClose, type LookupKind, type MonthQuery } from '../../api/finance';
import { money, number } from '../account/common';
import { dateTime, monthName } from '../../i18n/dates';
import { TableScroll } from './TableScroll';
import { AccountTypeName } from './AccountType';
import { MonthField } from './MonthField';

/** Last month, the usual one to close. */
const lastMonth = () => {
  const d = new Date();
  d.setUTCDate(1);
  d.setUTCMonth(d.getUTCMonth() - 1);
  return d.toISOString().slice(0, 7);
};
const browserZone = () => Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';

/** The lines of Stripe's money against our sales, in their order: each a figure per currency. */
const STRIPE_LINES = ['sales', 'tax', 'charges', 'refunds', 'disputes', 'fees', 'unmatched', 'notYetPaidOut', 'paidOutFromEarlier', 'payouts', 'unexplained'] as const;
/**
 * The lines of the credit liability: [text, a paid currency's money, its credits, the free credits].
 * A paid currency's cell shows its money and, under it, its credits; the free column its credits
 * (granted, not sold), so the columns' credits add up to what the check below compares with the ledger.
 */
const REVENUE_LINES = [
  ['opening', 'openingLiability', 'opening', 'opening'],
  ['sold', 'sold', 'sold', 'grantedFree'],
  ['spent', 'spent', 'spent', 'spent'],
  ['refunded', 'refunded', 'refunded', 'refunded'],
  ['clawedBack', 'clawedBack', 'clawedBack', 'clawedBack'],
  ['restored', 'restored', 'restored', 'restored'],
  ['closing', 'closingLiability', 'closing', 'closing'],
] as const;

/** Month-end: a month in a time zone; Stripe's money tied to our sales, the credit liability and revenue, the CSVs, the close. */
export function MonthEndSection() {
  const { t, i18n } = useTranslation('finance');
  const lang = i18n.language;
  const [month, setMonth] = useState(lastMonth);
  const [tz, setTz] = useState(browserZone);
  const q: MonthQuery = { month, tz: tz.trim() };
  const report = useMutation({ mutationFn: getMonthEnd });
  /**
   * Bumped each time the person asks for a month (Show). An import or a close that answers later
   * shows its month only if none was asked for meanwhile: the person's last choice stays on screen
   * (and the close button, which acts on the month on screen, with it).
   */
  const asked = useRef(0);
  const close = useMutation({
    mutationFn: closeMonth,
    onMutate: () => ({ asked: asked.current }),
    onSuccess: (_, closed, context) => {
      if (context.asked === asked.current) report.mutate(closed);
    },
  });
  /** Shows a month (what a close acted on before belongs to the month shown then). */
  const show = (query: MonthQuery) => {
    close.reset();
    report.mutate(query);
  };
  const imported = useMutation({
    mutationFn: importStripe,
    onMutate: () => ({ asked: asked.current }),
    onSuccess: (_, query, context) => {
      if (context.asked === asked.current) show(query);
    },
  });
  // The month on screen, not what the month field says now: the CSVs and the close act on what the person sees.
  const shown = report.data ? report.variables : undefined;
  const csv = useMutation({ mutationFn: ({ c, month }: { c: (typeof MONTH_END_CSVS)[number]; month: MonthQuery }) => saveFile(`${c.path}?${new URLSearchParams({ ...month }).toString()}`, `${c.file}-${month.month}.csv`) });
  // The two reports that take instants: the month's bounds as the API resolved them.
  const periodCsv = useMutation({
    mutationFn: (p: { kind: 'reconciliation' | 'trialBalance'; from: string; to: string; month: string }) =>
      p.kind === 'reconciliation'
        ? saveFile(`/v1/admin/billing/reconciliation.csv?${new URLSearchParams({ from: p.from, to: p.to }).toString()}`, `billing-reconciliation-${p.month}.csv`)
        : saveFile(`/v1/admin/ledger/trial-balance.csv?${new URLSearchParams({ at: new Date(Date.parse(p.to) - 1).toISOString() }).toString()}`, `ledger-trial-balance-${p.month}.csv`),
  });
  const r = report.data;
  // Stripe transactions that need a look: matching no order, or charged another amount than it
  const toLookAt = r ? r.stripe.differences.unmatched + r.stripe.differences.amount : 0;
  const m = (minor: number, currency: string | null) => (currency ? money(lang, minor, currency) : number(lang, minor));

  return (
    <section className="finance-section" aria-labelledby="month-end-title">
      <h2 id="month-end-title">{t('monthEnd.title')}</h2>
      <p>{t('monthEnd.text')}</p>
      <form
        className="form form-wide"
        noValidate
        onSubmit={(e) => {
          e.preventDefault();
          asked.current += 1;
          show(q);
        }}
      >
        <div className="period">
          <MonthField id="month-end-month" label={t('monthEnd.month')} value={month} onChange={setMonth} />
          <Field id="month-end-tz" label={t('monthEnd.tz')} type="text" spellCheck={false} autoComplete="off" value={tz} hint={t('monthEnd.tzHint')} onChange={(e) => setTz(e.target.value)} />
        </div>
        <div className="actions">
          <button type="submit" className="button-primary" disabled={report.isPending}>
            {report.isPending ? t('monthEnd.loading') : t('monthEnd.show')}
          </button>
          <button type="button" className="button-quiet" disabled={imported.isPending} onClick={() => imported.mutate(q)}>
            {imported.isPending ? t('monthEnd.importing') : t('monthEnd.import')}
          </button>
        </div>
      </form>
      <FormAlert title={t('error')} message={failureOf(report, t('genericError')) ?? failureOf(imported, t('genericError'))} />
      <div aria-live="polite">
        {imported.data ? <p className="check-ok">{t('monthEnd.imported', { transactions: imported.data.balanceTransactions, payouts: imported.data.payouts })}</p> : null}
      </div>
      {r && shown ? (
        <>
          <h3>{t('monthEnd.stripeTitle')}</h3>
          {r.stripe.currencies.length === 0 ? (
            // just imported and still empty: Stripe has nothing in it (not "import it first")
            <p className="empty">{imported.variables?.month === shown.month && imported.variables.tz === shown.tz && imported.isSuccess ? t('monthEnd.noStripeImported') : t('monthEnd.noStripe')}</p>
          ) : (
            // one column per currency and a line per figure, as on a statement: it fits a phone
            <TableScroll label={t('monthEnd.stripeTitle')} className="by-currency" compact>
              <thead>
                <tr>
                  <th scope="col">{t('monthEnd.item')}</th>
                  {r.stripe.currencies.map((c) => (
                    <th key={c.currency} scope="col" className="num">
                      {c.currency.toUpperCase()}
                    </th>
                  ))}
                </tr>
              </thead>
              <tbody>
                {STRIPE_LINES.map((k) => (
                  <tr key={k}>
                    <th scope="row">{t(`monthEnd.stripe.${k}`)}</th>
                    {r.stripe.currencies.map((c) => (
                      <td key={c.currency} className="num">
                        {money(lang, c[k], c.currency)}
                      </td>
                    ))}
                  </tr>
                ))}
              </tbody>
            </TableScroll>
          )}
          <ul className="checks">
            {r.stripe.currencies.map((c) => (
              <li key={c.currency} className={c.tiesOut ? 'check-ok' : 'check-bad'}>
                {c.tiesOut ? t('monthEnd.tiesOut', { currency: c.currency.toUpperCase() }) : t('monthEnd.unexplained', { currency: c.currency.toUpperCase(), amount: money(lang, c.unexplained, c.currency) })}
              </li>
            ))}
            <li className={toLookAt === 0 ? 'check-ok' : 'check-bad'}>
              {toLookAt === 0 ? t('monthEnd.differencesOk', { count: r.stripe.differences.transactions, ...r.stripe.differences }) : t('monthEnd.differencesBad', { count: toLookAt, ...r.stripe.differences })}
            </li>
          </ul>

          <h3>{t('monthEnd.revenueTitle')}</h3>
          {r.revenue.closed ? <p className="muted">{t('monthEnd.closed', { date: dateTime(lang, r.revenue.closed.closedAt), checkpoint: r.revenue.closed.checkpoint?.id ?? '—' })}</p> : null}
          {r.revenue.currencies.length === 0 ? (
            <p className="empty">{t('monthEnd.noRevenue')}</p>
          ) : (
            <TableScroll label={t('monthEnd.revenueTitle')} className="by-currency" compact>
              <thead>
                <tr>
                  <th scope="col">{t('monthEnd.item')}</th>
                  {r.revenue.currencies.map((c) => (
                    <th key={c.currency ?? 'none'} scope="col" className="num">
                      {c.currency ? c.currency.toUpperCase() : t('monthEnd.freeCredits')}
                    </th>
                  ))}
                </tr>
              </thead>
              <tbody>
                {REVENUE_LINES.map(([k, paid, paidCredits, free]) => (
                  <tr key={k}>
                    <th scope="row">{t(`monthEnd.revenue.${k}`)}</th>
                    {r.revenue.currencies.map((c) => (
                      <td key={c.currency ?? 'none'} className="num">
                        {c.currency ? (
                          <>
                            {m(c[paid], c.currency)}
                            <span className="figure-credits">{t('monthEnd.creditsValue', { count: c.credits[paidCredits] })}</span>
                          </>
                        ) : (
                          t('monthEnd.creditsValue', { count: c.credits[free] })
                        )}
                      </td>
                    ))}
                  </tr>
                ))}
              </tbody>
            </TableScroll>
          )}
          <ul className="checks">
            <li className={r.revenue.trialBalance.tiesOut ? 'check-ok' : 'check-bad'}>
              {t(r.revenue.trialBalance.tiesOut ? 'monthEnd.trialTies' : 'monthEnd.trialDiffers', { outstanding: number(lang, r.revenue.trialBalance.outstandingCredits), held: number(lang, r.revenue.trialBalance.heldByPeople) })}
            </li>
          </ul>
          <p className="muted">{t('monthEnd.rule')}</p>

          <h3>{t('monthEnd.csvTitle')}</h3>
          <div className="actions">
            {MONTH_END_CSVS.map((c) => (
              <button key={c.key} type="button" className="button-quiet" disabled={csv.isPending} onClick={() => csv.mutate({ c, month: shown })}>
                {t(`monthEnd.csv.${c.key}`)}
              </button>
            ))}
            <button type="button" className="button-quiet" disabled={periodCsv.isPending} onClick={() => periodCsv.mutate({ kind: 'reconciliation', from: r.stripe.from, to: r.stripe.to, month: shown.month })}>
              {t('monthEnd.csv.reconciliation')}
            </button>
            <button type="button" className="button-quiet" disabled={periodCsv.isPending} onClick={() => periodCsv.mutate({ kind: 'trialBalance', from: r.stripe.from, to: r.stripe.to, month: shown.month })}>
              {t('monthEnd.csv.trialBalance')}
            </button>
          </div>
          <FormAlert title={t('csv.failed')} message={failureOf(csv, t('genericError')) ?? failureOf(periodCsv, t('genericError'))} />

          {r.revenue.closed && !close.data ? null : <CloseMonth key={`${shown.month} ${shown.tz}`} month={shown} endsAt={r.stripe.to} close={close} />}
        </>
      ) : null}
    </section>
  );
}

/** An instant in the month's time zone, named ("1 Jan 2027, 00:00 (Asia/Shanghai)"); the browser's own if Intl does not know the zone. */
function inZone(language: string, iso: string, tz: string): string {
  try {
    // Chinese text takes full-width parentheses
    return language === 'zh' ? `${dateTime(language, iso, tz)}（${tz}）` : `${dateTime(language, iso, tz)} (${tz})`;
  } catch {
    return dateTime(language, iso);
  }
}

/** True until the instant `at`, then false: the component renders again when it passes. */
function useBefore(at: string): boolean {
  const end = Date.parse(at);
  const [now, setNow] = useState(Date.now);
  useEffect(() => {
    if (now >= end) return;
    // a timer holds at most ~24.8 days: one further away is set again when that one fires
    const timer = setTimeout(() => setNow(Date.now()), Math.min(end - now, 2 ** 31 - 1));
    return () => clearTimeout(timer);
  }, [end, now]);
  return now < end;
}

/**
 * Closing the month on screen. What came of it shows here, where the person pressed the button:
 * the refusal (focused, as every FormAlert), or the checkpoint, which takes the focus the button had.
 */
function CloseMonth({ month, endsAt, close }: { month: MonthQuery; endsAt: string; close: UseMutationResult<LedgerPeriodClose, Error, MonthQuery> }) {
  const { t, i18n } = useTranslation('finance');
  // A month still running cannot be closed (the API refuses it, and stays the judge): the page says
  // from when it can be, in the month's own time zone, and offers the close once that has passed.
  const running = useBefore(endsAt);
  const done = useRef<HTMLParagraphElement>(null);
  useEffect(() => {
    if (close.data) done.current?.focus();
  }, [close.data]);
  return (
    <div className="month-close">
      <h3>{t('monthEnd.closeTitle')}</h3>
      {close.data ? (
        <p ref={done} className="check-ok" role="status" tabIndex={-1}>
          {t('monthEnd.closedNow', { month: monthName(i18n.language, close.data.month), checkpoint: close.data.checkpoint?.id ?? '—' })}
        </p>
      ) : running ? (
        <p>{t('monthEnd.notOver', { month: monthName(i18n.language, month.month), date: inZone(i18n.language, endsAt, month.tz) })}</p>
      ) : (
        <>
          <p>{t('monthEnd.closeText')}</p>
          <div className="actions">
            <button type="button" className="button-primary" disabled={close.isPending} onClick={() => close.mutate(month)}>
              {close.isPending ? t('monthEnd.closing') : t('monthEnd.close', { month: monthName(i18n.language, month.month) })}
            </button>
          </div>
        </>
      )}
      <FormAlert title={t('monthEnd.closeFailed', { month: monthName(i18n.language, month.month) })} message={failureOf(close, t('genericError'))} />
    </div>
  );
}

/** From an order, a Stripe charge or a person to their books and back: ids only. */
export function LookupSection() {
  const { t } = useTranslation(['finance', 'billing']);
  const [kind, setKind] = useState<LookupKind>('orderId');
  const [id, setId] = useState('');
  const [error, setError] = useState<string | undefined>();
  const lookup = useMutation({ mutationFn: (q: { kind: LookupKind; id: string }) => lookupBooks(q.kind, q.id) });
  const r = lookup.data;
  return (
    <section className="finance-section" aria-labelledby="lookup-title">
      <h2 id="lookup-title">{t('lookup.title')}</h2>
      <p>{t('lookup.text')}</p>
      <form
        className="form form-wide"
        noValidate
        onSubmit={(e) => {
          e.preventDefault();
          if (!id.trim()) {
            setError(t('lookup.required'));
            document.getElementById('lookup-id')?.focus();
            return;
          }
          setError(undefined);
          lookup.mutate({ kind, id: id.trim() });
        }}
      >
        <div className="field">
          <label htmlFor="lookup-kind">{t('lookup.kind')}</label>
          <select id="lookup-kind" name="lookup-kind" value={kind} onChange={(e) => setKind(e.target.value as LookupKind)}>
            <option value="orderId">{t('lookup.kinds.orderId')}</option>
            <option value="chargeId">{t('lookup.kinds.chargeId')}</option>
            <option value="userId">{t('lookup.kinds.userId')}</option>
          </select>
        </div>
        <Field id="lookup-id" label={t('lookup.id')} type="text" spellCheck={false} autoComplete="off" value={id}
          error={error}
          onChange={(e) => {
            setId(e.target.value);
            if (e.target.value.trim()) setError(undefined);
          }}
        />
        <button type="submit" className="button-primary" disabled={lookup.isPending}>
          {lookup.isPending ? t('lookup.loading') : t('lookup.find')}
        </button>
      </form>
      <FormAlert title={t('error')} message={failureOf(lookup, t('genericError'))} />
      <div aria-live="polite">
        {r ? (
          <dl className="facts lookup-result">
            <dt>{t('lookup.person')}</dt>
            <dd className="account-id">{r.ledger?.userId ?? r.orders.find((o) => o.userId)?.userId ?? t('lookup.purged')}</dd>
            <dt>{t('lookup.accounts')}</dt>
            <dd>
              {r.ledger?.accounts.length ? (
                <ul>
                  {r.ledger.accounts.map((a) => (
                    <li key={a.accountId}>
                      <AccountTypeName type={a.type} />
                      <span className="account-id">{a.accountId}</span>
                    </li>
                  ))}
                </ul>
              ) : (
                '—'
              )}
            </dd>
            <dt>{t('lookup.orders')}</dt>
            <dd>
              {r.orders.length === 0 ? (
                t('lookup.noOrders')
              ) : (
                <ul>
                  {r.orders.map((o) => (
                    // as the accounts above: the word first, then the ids, a line each
                    <li key={o.orderId}>
                      {t(`status.${o.status}`, { ns: 'billing', defaultValue: o.status })}
                      <span className="account-id">{o.orderId}</span>
                      <span className="account-id">{o.chargeId ?? o.paymentIntentId ?? '—'}</span>
                    </li>
                  ))}
                </ul>
              )}
            </dd>
          </dl>
        ) : null}
      </div>
    </section>
  );
}
