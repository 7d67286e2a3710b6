import { useId, useState, type Dispatch, type FormEvent, type SetStateAction } from 'react';
import { useTranslation } from 'react-i18next';
import { Page } from '../components/Page';
import { Loaded } from '../components/Loaded';
import { DateField } from '../components/DateField';
import { TableScroll } from './finance/TableScroll';
import { clearIfValid, Field, FormAlert, type FieldErrors } from '../components/Form';
import { failureOf } from '../api';
import { useRequestKey } from '../api/request-key';
import { useAuditLog, useDailyMetrics, useFraudSignals, useGrantGoodwill, useLookUp, useSetSuspended, type SupportAccount } from '../api/admin';
import { Section, number } from './account/common';
import { StaffGate } from './account/StaffGate';
import '../styles/account.css';
import { dateTime, longDay } from '../i18n/dates';

/** A daily metric's label in words: a report's reason as the report form names it, the rest from the back office's texts. */
const labelText = (key: string, value: string) => (key === 'reason' ? `moderation:reasons.${value}` : `metrics.values.${key}.${value}`);

/** `/back-office` (not `/admin`: the gateway's queue board lives under it): support look-up, suspension, goodwill credits, the audit log, metrics and fraud signals (role admin). */
export default function Admin() {
  const { t } = useTranslation('admin');
  return (
    <StaffGate roles={['admin']} title={t('title')} signedOut={t('signedOut')}>
      {() => (
        <Page title={t('title')} lead={t('lead')} className="staff admin">
          <SupportSection />
          <AuditSection />
          <MetricsSection />
          <FraudSection />
        </Page>
      )}
    </StaffGate>
  );
}


/** A written reason (kept in the audit log): at least 3 characters. */
const reasonOk = (reason: string) => reason.trim().length >= 3;

/** The form's `reason` field; its error goes once the reason is long enough. */
function ReasonField({ id, value, setValue, errors, setErrors }: { id: string; value: string; setValue: (v: string) => void; errors: FieldErrors; setErrors: Dispatch<SetStateAction<FieldErrors>> }) {
  const { t } = useTranslation('admin');
  return (
    <Field
      id={id}
      label={t('reason')}
      hint={t('reasonHint')}
      error={errors.reason}
      value={value}
      maxLength={1000}
      onChange={(e) => {
        setValue(e.target.value);
        clearIfValid(setErrors, 'reason', reasonOk(e.target.value) ? undefined : 'short');
      }}
    />
  );
}

function SupportSection() {
  const { t, i18n } = useTranslation('admin');
  const lang = i18n.language;
  const id = useId();
  const lookUp = useLookUp();
  const [who, setWho] = useState('');
  const [reason, setReason] = useState('');
  const [showPrompts, setShowPrompts] = useState(false);
  const [errors, setErrors] = useState<FieldErrors>({});
  const submit = (e: FormEvent) => {
    e.preventDefault();
    const found = { ...(who.trim() ? {} : { who: t('support.whoRequired') }), ...(reasonOk(reason) ? {} : { reason: t('reasonRequired') }) };
    setErrors(found);
    if (found.who) return document.getElementById(`${id}-who`)?.focus();
    if (found.reason) return document.getElementById(`${id}-reason`)?.focus();
    const q = who.trim();
    lookUp.mutate({ ...(/^[0-9a-f-]{36}$/i.test(q) ? { userId: q } : { email: q }), reason: reason.trim(), showPrompts });
  };
  const account = lookUp.data;
  return (
    <Section kind="finance" id="support-title" title={t('support.title')}>
      <form className="form form-wide" noValidate onSubmit={submit}>
        <FormAlert title={t('error')} message={failureOf(lookUp, t('genericError'))} />
        <Field
          id={`${id}-who`}
          label={t('support.who')}
          error={errors.who}
          value={who}
          onChange={(e) => {
            setWho(e.target.value);
            clearIfValid(setErrors, 'who', e.target.value.trim() ? undefined : 'required');
          }}
          autoComplete="off"
        />
        <ReasonField id={`${id}-reason`} value={reason} setValue={setReason} errors={errors} setErrors={setErrors} />
        <div className="field field-check">
          <input id={`${id}-prompts`} type="checkbox" checked={showPrompts} onChange={(e) => setShowPrompts(e.target.checked)} />
          <label htmlFor={`${id}-prompts`}>{t('support.showPrompts')}</label>
        </div>
        <button type="submit" className="button-primary" disabled={lookUp.isPending}>
          {lookUp.isPending ? t('working') : t('support.find')}
        </button>
      </form>
      {account ? <AccountView account={account} lang={lang} /> : null}
    </Section>
  );
}

function AccountView({ account: a, lang }: { account: SupportAccount; lang: string }) {
  const { t } = useTranslation(['admin', 'create']);
  const n = (v: number) => number(lang, v);
  // What this admin did since the look-up shows in the summary at once (the look-up itself is
  // audited, so it is not run again behind their back).
  const [suspended, setSuspended] = useState(a.account.suspended);
  const [granted, setGranted] = useState(0);
  return (
    <div className="support-account" aria-live="polite">
      <h3>{a.account.email}</h3>
      <dl className="facts">
        <dt>{t('support.id')}</dt>
        <dd>{a.account.id}</dd>
        <dt>{t('support.status')}</dt>
        <dd>{suspended ? t('support.suspended') : a.account.status === 'active' ? t('support.active') : t('support.deleted')}</dd>
        <dt>{t('support.roles')}</dt>
        <dd>{a.account.roles.map((r) => t(`roles.${r}`, { defaultValue: r })).join(', ')}</dd>
        <dt>{t('support.created')}</dt>
        <dd>{dateTime(lang, a.account.createdAt)}</dd>
        <dt>{t('support.balance')}</dt>
        <dd>{t('support.balanceValue', { available: n(a.balance.available + granted), held: n(a.balance.held) })}</dd>
        <dt>{t('support.orders')}</dt>
        <dd>{n(a.orders.length)}</dd>
      </dl>
      <h4>{t('support.generations')}</h4>
      {a.generations.length === 0 ? (
        <p className="muted">{t('support.none')}</p>
      ) : (
        <ul className="report-list">
          {a.generations.slice(0, 10).map((g) => (
            <li key={g.id}>
              {dateTime(lang, g.createdAt)} — {g.model}, {t(`statusShort.${g.status}`, { ns: 'create', defaultValue: g.status })}, {t('support.cost', { count: g.cost })}
              {g.prompt !== null ? <blockquote>{g.prompt}</blockquote> : null}
            </li>
          ))}
        </ul>
      )}
      {a.promptsShown ? null : <p className="muted">{t('support.promptsHidden')}</p>}
      <SuspendForm userId={a.account.id} suspended={suspended} onDone={setSuspended} />
      <GoodwillForm userId={a.account.id} onDone={(amount) => setGranted((g) => g + amount)} />
    </div>
  );
}

function SuspendForm({ userId, suspended, onDone }: { userId: string; suspended: boolean; onDone: (suspended: boolean) => void }) {
  const { t } = useTranslation('admin');
  const id = useId();
  const action = useSetSuspended();
  const [reason, setReason] = useState('');
  const [errors, setErrors] = useState<FieldErrors>({});
  const now = suspended;
  return (
    <form
      className="form form-wide"
      aria-labelledby={`${id}-title`}
      noValidate
      onSubmit={(e) => {
        e.preventDefault();
        if (!reasonOk(reason)) {
          setErrors({ reason: t('reasonRequired') });
          return document.getElementById(`${id}-reason`)?.focus();
        }
        setErrors({});
        action.mutate(
          { id: userId, reason: reason.trim(), suspend: !now },
          {
            onSuccess: (answer) => {
              // a reason belongs to one action: the next one is written anew
              setReason('');
              onDone(answer.suspended);
            },
          },
        );
      }}
    >
      <h4 id={`${id}-title`}>{now ? t('suspend.liftTitle') : t('suspend.title')}</h4>
      <p className="muted">{now ? t('suspend.liftText') : t('suspend.text')}</p>
      <FormAlert title={t('error')} message={failureOf(action, t('genericError'))} />
      <ReasonField id={`${id}-reason`} value={reason} setValue={setReason} errors={errors} setErrors={setErrors} />
      <button type="submit" className={now ? 'button-primary' : 'button-danger'} disabled={action.isPending}>
        {action.isPending ? t('working') : now ? t('suspend.lift') : t('suspend.do')}
      </button>
      {/* under the button that did it, not above the next section's heading */}
      {action.data ? (
        <p className="notice notice-done" role="status">
          {action.data.suspended ? t('suspend.done') : t('suspend.lifted')}
        </p>
      ) : null}
    </form>
  );
}

function GoodwillForm({ userId, onDone }: { userId: string; onDone: (amount: number) => void }) {
  const { t, i18n } = useTranslation('admin');
  const id = useId();
  const grant = useGrantGoodwill();
  const requestKey = useRequestKey();
  const [amount, setAmount] = useState('');
  const [reason, setReason] = useState('');
  const [errors, setErrors] = useState<FieldErrors>({});
  const amountOk = (v: string) => Number.isInteger(Number(v)) && Number(v) > 0;
  return (
    <form
      className="form form-wide"
      aria-labelledby={`${id}-title`}
      noValidate
      onSubmit={(e) => {
        e.preventDefault();
        const value = Number(amount);
        const found = { ...(amountOk(amount) ? {} : { amount: t('goodwill.amountRequired') }), ...(reasonOk(reason) ? {} : { reason: t('reasonRequired') }) };
        setErrors(found);
        if (found.amount) return document.getElementById(`${id}-amount`)?.focus();
        if (found.reason) return document.getElementById(`${id}-reason`)?.focus();
        const body = { userId, amount: value, reason: reason.trim() };
        // The same key until answered: a retry after a lost answer gets the first grant back, not a second.
        grant.mutate(
          { ...body, key: requestKey.keyFor(body) },
          {
            onSuccess: (answer) => {
              requestKey.answered();
              // cleared, so a second click cannot grant the same credits again by mistake
              setAmount('');
              setReason('');
              onDone(answer.amount);
            },
            onError: (err) => requestKey.answered(err),
          },
        );
      }}
    >
      <h4 id={`${id}-title`}>{t('goodwill.title')}</h4>
      {/* no words from the API (the answer was lost): pressing again is safe, the key is kept */}
      <FormAlert title={t('error')} message={failureOf(grant, t('goodwill.noAnswer'))} />
      <Field
        id={`${id}-amount`}
        label={t('goodwill.amount')}
        type="number"
        min={1}
        inputMode="numeric"
        error={errors.amount}
        value={amount}
        onChange={(e) => {
          setAmount(e.target.value);
          clearIfValid(setErrors, 'amount', amountOk(e.target.value) ? undefined : 'invalid');
        }}
      />
      <ReasonField id={`${id}-reason`} value={reason} setValue={setReason} errors={errors} setErrors={setErrors} />
      <button type="submit" className="button-primary" disabled={grant.isPending}>
        {grant.isPending ? t('working') : t('goodwill.grant')}
      </button>
      {grant.data ? (
        <p className="notice notice-done" role="status">
          {t('goodwill.done', { amount: number(i18n.language, grant.data.amount), today: number(i18n.language, grant.data.grantedTodayByYou) })}
        </p>
      ) : null}
    </form>
  );
}

function AuditSection() {
  const { t, i18n } = useTranslation('admin');
  const log = useAuditLog();
  return (
    <Section kind="finance" id="audit-title" title={t('audit.title')}>
      <Loaded query={log} loading={t('loading')} fallback={t('audit.error')}>
        {({ items }) =>
          items.length === 0 ? (
            <p className="muted">{t('audit.empty')}</p>
          ) : (
            <TableScroll label={t('audit.title')}>
              <thead>
                <tr>
                  <th scope="col">{t('audit.when')}</th>
                  <th scope="col">{t('audit.action')}</th>
                  <th scope="col">{t('audit.target')}</th>
                  <th scope="col">{t('audit.reason')}</th>
                </tr>
              </thead>
              <tbody>
                {items.map((e) => (
                  <tr key={e.id}>
                    <td>{dateTime(i18n.language, e.at)}</td>
                    {/* action ids hold a dot, the key separator: image.taken-down → image_taken-down */}
                    <td>{t(`audit.actions.${e.action.replace('.', '_')}`)}</td>
                    <td className="mono">{e.targetUserId ?? '—'}</td>
                    <td>{e.reason}</td>
                  </tr>
                ))}
              </tbody>
            </TableScroll>
          )
        }
      </Loaded>
    </Section>
  );
}

const today = () => new Date().toISOString().slice(0, 10);
const weekAgo = () => new Date(Date.now() - 6 * 86_400_000).toISOString().slice(0, 10);

function MetricsSection() {
  const { t, i18n } = useTranslation(['admin', 'moderation']);
  const id = useId();
  const [from, setFrom] = useState(weekAgo);
  const [to, setTo] = useState(today);
  const [period, setPeriod] = useState({ from: weekAgo(), to: today() });
  const metrics = useDailyMetrics(period.from, period.to);
  return (
    <Section kind="finance" id="metrics-title" title={t('metrics.title')}>
      <p className="muted">{t('metrics.text')}</p>
      <form
        className="form form-wide"
        noValidate
        onSubmit={(e) => {
          e.preventDefault();
          setPeriod({ from, to });
        }}
      >
        <div className="period">
          <DateField id={`${id}-from`} label={t('metrics.from')} value={from} onChange={setFrom} />
          <DateField id={`${id}-to`} label={t('metrics.to')} value={to} onChange={setTo} />
        </div>
        <button type="submit" className="button-quiet">
          {t('metrics.show')}
        </button>
      </form>
      <Loaded query={metrics} loading={t('loading')} fallback={t('metrics.error')}>
        {({ items }) =>
          items.length === 0 ? (
            <p className="muted">{t('metrics.empty')}</p>
          ) : (
            <TableScroll label={t('metrics.title')}>
              <thead>
                <tr>
                  <th scope="col">{t('metrics.day')}</th>
                  <th scope="col">{t('metrics.metric')}</th>
                  <th scope="col">{t('metrics.labels')}</th>
                  <th scope="col" className="num">
                    {t('metrics.value')}
                  </th>
                </tr>
              </thead>
              <tbody>
                {items.map((m, k) => (
                  <tr key={k}>
                    <td>{longDay(i18n.language, m.day, 'UTC')}</td>
                    <td>{t(`metrics.names.${m.metric}`, { defaultValue: m.metric })}</td>
                    <td>{Object.entries(m.labels).map(([key, value]) => t(labelText(key, value), { defaultValue: value })).join(' · ') || '—'}</td>
                    <td className="num">{m.value === null ? t('metrics.suppressed') : number(i18n.language, m.value)}</td>
                  </tr>
                ))}
              </tbody>
            </TableScroll>
          )
        }
      </Loaded>
    </Section>
  );
}

function FraudSection() {
  const { t, i18n } = useTranslation('admin');
  const fraud = useFraudSignals();
  return (
    <Section kind="finance" id="fraud-title" title={t('fraud.title')}>
      <p className="muted">{t('fraud.text')}</p>
      <Loaded query={fraud} loading={t('loading')} fallback={t('fraud.error')}>
        {({ items }) =>
          items.length === 0 ? (
            <p className="muted">{t('fraud.empty')}</p>
          ) : (
            <ul className="report-list">
              {items.map((f, k) => (
                <li key={k}>
                  <span className="mono">{f.userId}</span> — {t(`fraud.signals.${f.signal}`, { count: f.count })} ({dateTime(i18n.language, f.lastAt)})
                </li>
              ))}
            </ul>
          )
        }
      </Loaded>
    </Section>
  );
}
