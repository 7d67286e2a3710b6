import { useState, type ReactNode } from 'react';
import { useMutation } from '@tanstack/react-query';
import { useTranslation } from 'react-i18next';
import { Page } from '../components/Page';
import { Loaded } from '../components/Loaded';
import { DateField } from '../components/DateField';
import { Field, FormAlert } from '../components/Form';
import { failureOf } from '../api';
import { getReconciliation, getStatement, saveFile, useTrialBalance, verifyLedger } from '../api/account';
import { Section, money, number } from './account/common';
import { dateTime } from '../i18n/dates';
import { StaffGate } from './account/StaffGate';
import { LookupSection, MonthEndSection } from './finance/MonthEnd';
import { TableScroll } from './finance/TableScroll';
import { AccountTypeName, CodeName, useAccountType } from './finance/AccountType';
import '../styles/account.css';

/** `/finance`: for the roles finance and admin. */
export default function Finance() {
  const { t } = useTranslation('finance');
  return (
    <StaffGate roles={['finance', 'admin']} title={t('title')} signedOut={t('signedOut')}>
      {() => (
        <Page title={t('title')} lead={t('lead')} className="staff finance">
          <MonthEndSection />
          <TrialBalanceSection />
          <VerifySection />
          <StatementSection />
          <ReconciliationSection />
          <CsvSection />
          <LookupSection />
        </Page>
      )}
    </StaffGate>
  );
}

const today = () => new Date().toISOString().slice(0, 10);
const monthStart = () => `${today().slice(0, 8)}01`;
/** Whole UTC days: the start of `from`, the end of `to`. */
/** A period (whole UTC days, this month so far to start with) and the button that acts on it. */
function PeriodForm({
  prefix,
  busy,
  label,
  busyLabel,
  onSubmit,
  children,
}: {
  prefix: string;
  busy: boolean;
  label: string;
  busyLabel: string;
  onSubmit: (p: { from: string; to: string }) => void;
  /** Fields before the period. */
  children?: ReactNode;
}) {
  const { t } = useTranslation('finance');
  const [from, setFrom] = useState(monthStart);
  const [to, setTo] = useState(today);
  return (
    <form
      className="form form-wide"
      noValidate
      onSubmit={(e) => {
        e.preventDefault();
        onSubmit({ from: `${from}T00:00:00.000Z`, to: `${to}T23:59:59.999Z` });
      }}
    >
      {children}
      <div className="period">
        <DateField id={`${prefix}-from`} label={t('from')} value={from} onChange={setFrom} />
        <DateField id={`${prefix}-to`} label={t('to')} value={to} onChange={setTo} />
      </div>
      <p className="field-hint">{t('utc')}</p>
      <button type="submit" className="button-primary" disabled={busy}>
        {busy ? busyLabel : label}
      </button>
    </form>
  );
}

function TrialBalanceSection() {
  const { t, i18n } = useTranslation('finance');
  const lang = i18n.language;
  const trial = useTrialBalance(true);
  const n = (v: number) => number(lang, v);
  const scopeLabel = (scope: string) => (scope === 'system' ? t('trial.scopeSystem') : t('trial.scopeUsers'));
  return (
    <Section kind="finance" id="trial-title" title={t('trial.title')}>
      <Loaded query={trial} loading={t('trial.loading')} fallback={t('trial.error')}>
        {(data) => (
          <>
            <p className="muted">{t('trial.asOf', { date: dateTime(lang, data.asOf) })}</p>
            <TableScroll label={t('trial.tableLabel')} className="trial-balance">
              <thead>
                <tr>
                  <th scope="col">{t('trial.type')}</th>
                  <th scope="col" className="phone-folded">
                    {t('trial.scope')}
                  </th>
                  <th scope="col" className="num phone-folded">
                    {t('trial.accounts')}
                  </th>
                  <th scope="col" className="num">
                    {t('trial.debits')}
                  </th>
                  <th scope="col" className="num">
                    {t('trial.credits')}
                  </th>
                  <th scope="col" className="num">
                    {t('trial.balance')}
                  </th>
                </tr>
              </thead>
              <tbody>
                {data.lines.map((line) => (
                  <tr key={`${line.scope}:${line.type}:${line.accountId ?? ''}`}>
                    <th scope="row">
                      <AccountTypeName type={line.type} />
                      {line.accountId ? <span className="account-id">{line.accountId}</span> : null}
                      {/* on a phone the scope and the count of accounts stand here, not in columns of their own */}
                      <span className="phone-only trial-scope">{t('trial.scopeAndAccounts', { scope: scopeLabel(line.scope), count: line.accounts })}</span>
                    </th>
                    <td className="phone-folded">{scopeLabel(line.scope)}</td>
                    <td className="num phone-folded">{n(line.accounts)}</td>
                    <td className="num">{n(line.debits)}</td>
                    <td className="num">{n(line.credits)}</td>
                    <td className="num">{n(line.balance)}</td>
                  </tr>
                ))}
              </tbody>
              <tfoot>
                <tr className="totals">
                  <th scope="row">{t('trial.totals')}</th>
                  <td className="phone-folded" />
                  <td className="phone-folded" />
                  <td className="num">{n(data.totals.debits)}</td>
                  <td className="num">{n(data.totals.credits)}</td>
                  <td className="num">{n(data.totals.balance)}</td>
                </tr>
              </tfoot>
            </TableScroll>
            <ul className="checks">
              <li className={data.totals.balance === 0 ? 'check-ok' : 'check-bad'}>{data.totals.balance === 0 ? t('trial.balanced') : t('trial.unbalanced')}</li>
              {data.storedBalancesMatch === null ? null : (
                <li className={data.storedBalancesMatch ? 'check-ok' : 'check-bad'}>{data.storedBalancesMatch ? t('trial.storedMatch') : t('trial.storedMismatch')}</li>
              )}
            </ul>
            <button type="button" className="button-quiet" disabled={trial.isFetching} onClick={() => void trial.refetch()}>
              {t('trial.refresh')}
            </button>
          </>
        )}
      </Loaded>
    </Section>
  );
}

function VerifySection() {
  const { t, i18n } = useTranslation('finance');
  // a count mismatch compares two numbers (grouped as any count); the others compare hashes
  const value = (reason: string, v: string) => (reason === 'count' && /^\d+$/.test(v) ? number(i18n.language, Number(v)) : v);
  const verify = useMutation({ mutationFn: verifyLedger });
  const r = verify.data;
  return (
    <Section kind="finance" id="verify-title" title={t('verify.title')}>
      <p>{t('verify.text')}</p>
      <FormAlert title={t('error')} message={failureOf(verify, t('genericError'))} />
      <div aria-live="polite">
        {r ? (
          r.ok || !r.firstMismatch ? (
            <p className="check-ok">{t('verify.ok', { checkpoints: r.checkpoints, sealed: r.sealedTransfers, unsealed: r.unsealedTransfers })}</p>
          ) : (
            <p className="check-bad">
              {t('verify.mismatch', { checkpoint: r.firstMismatch.checkpointId, reason: r.firstMismatch.reason, expected: value(r.firstMismatch.reason, r.firstMismatch.expected), actual: value(r.firstMismatch.reason, r.firstMismatch.actual) })}
            </p>
          )
        ) : null}
      </div>
      <button type="button" className="button-quiet" disabled={verify.isPending} onClick={() => verify.mutate()}>
        {verify.isPending ? t('verify.running') : t('verify.run')}
      </button>
    </Section>
  );
}

function StatementSection() {
  const { t, i18n } = useTranslation('finance');
  const lang = i18n.language;
  const [account, setAccount] = useState('');
  const [error, setError] = useState<string | undefined>();
  const lookup = useMutation({ mutationFn: (q: { id: string; from: string; to: string }) => getStatement(q.id, q.from, q.to) });
  const typeLabel = useAccountType();

  const submit = (p: { from: string; to: string }) => {
    if (!account.trim()) {
      setError(t('statement.accountRequired'));
      document.getElementById('statement-account')?.focus();
      return;
    }
    setError(undefined);
    lookup.mutate({ id: account.trim(), ...p });
  };
  const data = lookup.data;

  return (
    <Section kind="finance" id="statement-title" title={t('statement.title')}>
      <PeriodForm prefix="statement" busy={lookup.isPending} label={t('statement.show')} busyLabel={t('statement.loading')} onSubmit={submit}>
        <Field id="statement-account" label={t('statement.account')} type="text" spellCheck={false} value={account} error={error} hint={t('statement.accountHint')} onChange={(e) => setAccount(e.target.value)} />
      </PeriodForm>
      <FormAlert title={t('error')} message={failureOf(lookup, t('genericError'))} />
      <div aria-live="polite">
        {data ? (
          <>
            <p className="statement-summary">
              {t('statement.summary', {
                type: typeLabel(data.statement.account.type),
                scope: data.statement.account.scope === 'system' ? t('trial.scopeSystem') : t('statement.scopeUser'),
                opening: number(lang, data.statement.openingBalance),
                closing: number(lang, data.statement.closingBalance),
                now: number(lang, data.balance.balance),
              })}
            </p>
            {data.statement.account.anonymized ? <p className="muted">{t('statement.anonymized')}</p> : null}
          </>
        ) : null}
      </div>
      {data ? (
        data.statement.items.length === 0 ? (
          <p className="empty">{t('statement.empty')}</p>
        ) : (
          <>
            <TableScroll label={t('statement.tableLabel')}>
              <thead>
                <tr>
                  <th scope="col">{t('statement.when')}</th>
                  <th scope="col">{t('statement.kind')}</th>
                  <th scope="col">{t('statement.side')}</th>
                  <th scope="col" className="num">
                    {t('statement.amount')}
                  </th>
                  <th scope="col">{t('statement.counter')}</th>
                  <th scope="col">{t('statement.reference')}</th>
                </tr>
              </thead>
              <tbody>
                {data.statement.items.map((item) => (
                  <tr key={`${item.transferId}:${item.side}`}>
                    <td>{dateTime(lang, item.createdAt)}</td>
                    <td>
                      <CodeName label={t(`statement.kinds.${item.kind}`, { defaultValue: item.kind })} code={item.kind} />
                    </td>
                    <td>{t(`statement.sides.${item.side}`)}</td>
                    <td className="num">{number(lang, item.amount, true)}</td>
                    <td className="account-id">{item.counterAccountId}</td>
                    <td className="account-id">{item.reference ?? '—'}</td>
                  </tr>
                ))}
              </tbody>
            </TableScroll>
            {data.statement.nextCursor ? <p className="muted">{t('statement.more')}</p> : null}
          </>
        )
      ) : null}
    </Section>
  );
}

function ReconciliationSection() {
  const { t, i18n } = useTranslation('finance');
  const lang = i18n.language;
  const run = useMutation({ mutationFn: (q: { from: string; to: string }) => getReconciliation(q.from, q.to) });
  const r = run.data;
  // each issue from its data, in the reader's language (the API's `reasons` are English)
  const cash = (minor: number | undefined, currency: string | null | undefined) => (currency ? money(lang, minor ?? 0, currency) : number(lang, minor ?? 0));
  const issueText = (i: NonNullable<typeof r>['mismatches'][number]['issues'][number]) =>
    i.kind === 'orphan-refund-pending'
      ? t('reconciliation.issues.orphan-refund-pending', { actual: cash(i.actual, i.currency), expected: cash(i.expected, i.currency) })
      : i.kind === 'paid-differs'
        ? t('reconciliation.issues.paid-differs', { actual: cash(i.actual, i.currency), expected: cash(i.expected, i.expectedCurrency) })
        : t(`reconciliation.issues.${i.kind}`, { actual: i.actual ?? 0, expected: i.expected ?? 0 });
  return (
    <Section kind="finance" id="reconciliation-title" title={t('reconciliation.title')}>
      <p>{t('reconciliation.text')}</p>
      <PeriodForm prefix="reconciliation" busy={run.isPending} label={t('reconciliation.run')} busyLabel={t('reconciliation.loading')} onSubmit={(q) => run.mutate(q)} />
      <FormAlert title={t('error')} message={failureOf(run, t('genericError'))} />
      <div aria-live="polite">
        {r ? (
          r.orders.length === 0 ? (
            <p className="empty">{t('reconciliation.noOrders')}</p>
          ) : r.mismatches.length === 0 ? (
            <p className="check-ok">{t('reconciliation.allMatch', { count: r.orders.length })}</p>
          ) : (
            <div>
              <p className="check-bad">{t('reconciliation.mismatches', { count: r.mismatches.length })}</p>
              <ul className="check-bad-list">
                {r.mismatches.map((m) => (
                  <li key={m.orderId}>
                    <span className="account-id">{m.orderId}</span> {m.issues.map((i) => issueText(i)).join(lang === 'zh' ? '；' : '; ')}
                  </li>
                ))}
              </ul>
            </div>
          )
        ) : null}
      </div>
      {r && r.totals.length > 0 ? (
        <TableScroll label={t('reconciliation.tableLabel')}>
          <thead>
            <tr>
              <th scope="col">{t('reconciliation.currency')}</th>
              <th scope="col" className="num">
                {t('reconciliation.orders')}
              </th>
              <th scope="col" className="num">
                {t('reconciliation.gross')}
              </th>
              <th scope="col" className="num">
                {t('reconciliation.refunded')}
              </th>
              <th scope="col" className="num">
                {t('reconciliation.disputesLost')}
              </th>
              <th scope="col" className="num">
                {t('reconciliation.net')}
              </th>
              <th scope="col" className="num">
                {t('reconciliation.granted')}
              </th>
              <th scope="col" className="num">
                {t('reconciliation.clawedBack')}
              </th>
              <th scope="col" className="num">
                {t('reconciliation.restored')}
              </th>
            </tr>
          </thead>
          <tbody>
            {r.totals.map((row) => (
              <tr key={row.currency}>
                <th scope="row">{row.currency.toUpperCase()}</th>
                <td className="num">{number(lang, row.orders)}</td>
                <td className="num">{money(lang, row.gross, row.currency)}</td>
                <td className="num">{money(lang, row.refunded, row.currency)}</td>
                <td className="num">{money(lang, row.disputesLost, row.currency)}</td>
                <td className="num">{money(lang, row.net, row.currency)}</td>
                <td className="num">{number(lang, row.creditsGranted)}</td>
                <td className="num">{number(lang, row.creditsClawedBack)}</td>
                <td className="num">{number(lang, row.creditsRestored)}</td>
              </tr>
            ))}
          </tbody>
        </TableScroll>
      ) : null}
    </Section>
  );
}

function CsvSection() {
  const { t } = useTranslation('finance');
  const csv = useMutation({
    mutationFn: (q: { from: string; to: string }) => saveFile(`/v1/admin/ledger/export.csv?${new URLSearchParams(q).toString()}`, `ledger-transfers-${q.from.slice(0, 10)}-${q.to.slice(0, 10)}.csv`),
  });
  return (
    <Section kind="finance" id="csv-title" title={t('csv.title')}>
      <p>{t('csv.text')}</p>
      <PeriodForm prefix="csv" busy={csv.isPending} label={t('csv.download')} busyLabel={t('csv.downloading')} onSubmit={(q) => csv.mutate(q)} />
      <FormAlert title={t('csv.failed')} message={failureOf(csv, t('genericError'))} />
    </Section>
  );
}
