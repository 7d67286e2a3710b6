import { useEffect, useId, useRef, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { Page } from '../components/Page';
import { Loaded, LoadError } from '../components/Loaded';
import { clearIfValid, FormAlert, type FieldErrors } from '../components/Form';
import { failureOf } from '../api';
import { MODERATION_REASONS, useDecide, useModerationQueue, type Decision, type ModerationItem, type ModerationReason, type QueueStatus } from '../api/moderation';
import { dateTime } from '../i18n/dates';
import { StaffGate } from './account/StaffGate';
import '../styles/account.css';

/** `/moderation`: reported gallery images, for the roles moderator and admin. */
export default function Moderation() {
  const { t } = useTranslation('moderation');
  return (
    <StaffGate roles={['moderator', 'admin']} title={t('title')} signedOut={t('signedOut')}>
      {() => (
        <Page title={t('title')} lead={t('lead')} className="staff moderation">
          <Queue />
        </Page>
      )}
    </StaffGate>
  );
}

function Queue() {
  const { t } = useTranslation('moderation');
  const [status, setStatus] = useState<QueueStatus>('open');
  const queue = useModerationQueue(status);
  const items = queue.data?.pages.flatMap((p) => p.items) ?? [];
  // A decided image leaves the list it was in: what happened is said (and focused) above the list.
  const [done, setDone] = useState<Decision['action'] | null>(null);
  const said = useRef<HTMLParagraphElement>(null);
  useEffect(() => {
    if (done) said.current?.focus();
  }, [done]);
  return (
    <>
      <p ref={said} className={done ? 'notice' : undefined} role="status" tabIndex={-1}>
        {done ? t(`done.${done}`) : null}
      </p>
      <fieldset className="queue-tabs">
        <legend>{t('tabs.label')}</legend>
        {(['open', 'taken-down'] as const).map((s) => (
          <label key={s}>
            <input
              type="radio"
              name="queue-status"
              value={s}
              checked={status === s}
              onChange={() => {
                setStatus(s);
                setDone(null);
              }}
            /> {t(`tabs.${s}`)}
          </label>
        ))}
      </fieldset>
      <Loaded query={queue} loading={t('loading')} fallback={t('error')}>
        {() =>
          items.length === 0 ? (
            <p className="notice">{status === 'open' ? t('emptyOpen') : t('emptyTakenDown')}</p>
          ) : (
            <>
              <ol className="moderation-list">
                {items.map((item, i) => (
                  <li key={item.imageId}>
                    <Item item={item} n={i + 1} onDone={setDone} />
                  </li>
                ))}
              </ol>
              {queue.isFetchNextPageError ? <LoadError error={queue.error} fallback={t('error')} retry={() => void queue.fetchNextPage()} /> : null}
              {queue.hasNextPage ? (
                <button type="button" className="button-quiet" disabled={queue.isFetchingNextPage} onClick={() => void queue.fetchNextPage()}>
                  {t('loadMore')}
                </button>
              ) : null}
            </>
          )
        }
      </Loaded>
    </>
  );
}

function Item({ item, n, onDone }: { item: ModerationItem; n: number; onDone: (action: Decision['action']) => void }) {
  const { t, i18n } = useTranslation('moderation');
  const id = useId();
  const title = t('image', { n });
  return (
    <article className="moderation-item" aria-labelledby={`${id}-title`}>
      <a href={item.url} target="_blank" rel="noopener" className="moderation-thumb">
        <img src={item.thumbUrl} alt={title} width={Math.min(item.width, 192)} height={Math.round((Math.min(item.width, 192) * item.height) / item.width)} loading="lazy" />
      </a>
      <div className="moderation-body">
        <h2 id={`${id}-title`}>{title}</h2>
        <p>
          <strong>{t(`states.${item.state}`)}</strong>
          {' · '}
          {t('openReports', { count: item.openReports })}
          {item.takedownRule ? ` · ${t('takenDownFor', { rule: t(`reasons.${item.takedownRule}`) })}` : null}
        </p>
        <p className="muted">{t('owner', { id: item.ownerId })}</p>
        <h3>{t('reportsLabel')}</h3>
        <ul className="report-list">
          {item.reports.map((r, k) => (
            <li key={k}>
              <strong>{t(`reasons.${r.reason}`)}</strong> — {t('reported', { date: dateTime(i18n.language, r.reportedAt) })}
              {r.resolution ? ` (${t(`resolutions.${r.resolution}`)})` : null}
              {r.note ? <blockquote>{r.note}</blockquote> : null}
            </li>
          ))}
        </ul>
        {/* a new form once the queue says the decision took effect (its state or reports changed) */}
        <DecisionForm key={`${item.state}:${item.openReports}`} item={item} onDone={onDone} />
      </div>
    </article>
  );
}

function DecisionForm({ item, onDone }: { item: ModerationItem; onDone: (action: Decision['action']) => void }) {
  const { t } = useTranslation('moderation');
  const id = useId();
  const decide = useDecide();
  const [reason, setReason] = useState('');
  const [rule, setRule] = useState<ModerationReason | ''>('');
  const [errors, setErrors] = useState<FieldErrors>({});
  // Decided: the buttons stay off until the queue, read again, shows the item as it is now (a
  // second decision on the old state would be refused and read as a failure of the first).
  const [decided, setDecided] = useState(false);
  const busy = decide.isPending || decided;
  const reasonOk = (v: string) => v.trim().length >= 3;
  const takenDown = item.state === 'taken-down';
  const act = (action: Decision['action']) => {
    const found = {
      ...(reasonOk(reason) ? {} : { reason: t('reasonRequired') }),
      ...(action === 'takedown' && !rule ? { rule: t('ruleRequired') } : {}),
    };
    setErrors(found);
    if (found.reason) return document.getElementById(`${id}-reason`)?.focus();
    if (found.rule) return document.getElementById(`${id}-rule`)?.focus();
    const d: Decision = action === 'takedown' ? { action, id: item.imageId, reason: reason.trim(), rule: rule as ModerationReason } : { action, id: item.imageId, reason: reason.trim() };
    decide.mutate(d, {
      onSuccess: () => {
        setDecided(true);
        onDone(action);
      },
    });
  };
  return (
    <form className="form decision-form" aria-label={t('decision')} noValidate onSubmit={(e) => e.preventDefault()}>
      <FormAlert title={t('failed')} message={failureOf(decide, t('failed'))} />
      <div className="field">
        <label htmlFor={`${id}-reason`}>{t('reason')}</label>
        <textarea
          id={`${id}-reason`}
          rows={2}
          maxLength={1000}
          value={reason}
          aria-invalid={errors.reason ? true : undefined}
          aria-describedby={`${id}-reason-hint${errors.reason ? ` ${id}-reason-error` : ''}`}
          onChange={(e) => {
            setReason(e.target.value);
            clearIfValid(setErrors, 'reason', reasonOk(e.target.value) ? undefined : 'short');
          }}
        />
        <p id={`${id}-reason-hint`} className="field-hint">
          {t('reasonHint')}
        </p>
        {errors.reason ? (
          <p id={`${id}-reason-error`} className="field-error">
            {errors.reason}
          </p>
        ) : null}
      </div>
      {takenDown ? null : (
        <div className="field">
          <label htmlFor={`${id}-rule`}>{t('rule')}</label>
          <select id={`${id}-rule`} value={rule} aria-invalid={errors.rule ? true : undefined} aria-describedby={errors.rule ? `${id}-rule-error` : undefined} onChange={(e) => {
              setRule(e.target.value as ModerationReason);
              clearIfValid(setErrors, 'rule', e.target.value ? undefined : 'required');
            }}
          >
            <option value="">—</option>
            {MODERATION_REASONS.map((r) => (
              <option key={r} value={r}>
                {t(`reasons.${r}`)}
              </option>
            ))}
          </select>
          {errors.rule ? (
            <p id={`${id}-rule-error`} className="field-error">
              {errors.rule}
            </p>
          ) : null}
        </div>
      )}
      <div className="actions-row">
        {takenDown ? (
          <button type="button" className="button-primary" disabled={busy} onClick={() => act('restore')}>
            {decide.isPending ? t('working') : t('restore')}
          </button>
        ) : (
          <>
            {item.openReports > 0 ? (
              <button type="button" className="button-quiet" disabled={busy} onClick={() => act('dismiss')}>
                {t('dismiss')}
              </button>
            ) : null}
            <button type="button" className="button-danger" disabled={busy} onClick={() => act('takedown')}>
              {decide.isPending ? t('working') : t('takedown')}
            </button>
          </>
        )}
      </div>
      {/* why the buttons are off: the decision is made, the queue has not shown it yet (its refresh failed or is on its way) */}
      {decided ? <p className="field-hint">{t('decided')}</p> : null}
    </form>
  );
}
