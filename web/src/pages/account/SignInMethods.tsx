import { useEffect, useRef, useState, type FormEvent } from 'react';
import { useSearchParams } from 'react-router';
import { useTranslation } from 'react-i18next';
import { Field, FormAlert, PasswordHint, clearIfValid, focusFirstError, showAtField, useChecks, type FieldErrors } from '../../components/Form';
import { failureOf, fieldOfFailure, problemDetail, type FailureFields, type Me } from '../../api';
import { useChangePassword, useRequestEmailChange, useStartGoogleLink, useUnlinkGoogle } from '../../api/account';
import { Section } from './common';

/** Reasons the Google link flow comes back with (`/settings/security?google=…`). */
const GOOGLE_OUTCOMES = new Set(['linked', 'google_in_use', 'google_already_linked', 'link_expired', 'oauth_state', 'oauth_failed', 'oauth_unavailable', 'account_disabled']);


/** A sentence that says a change went through: announced, and focused so keyboard users hear it. */
function Done({ message }: { message: string | undefined }) {
  const ref = useRef<HTMLParagraphElement>(null);
  useEffect(() => {
    if (message) ref.current?.focus();
  }, [message]);
  return (
    <p ref={ref} className="status-line" role="status" tabIndex={-1}>
      {message ?? ''}
    </p>
  );
}

/** Change the password, or set a first one on an account that signs in with Google only. */
export function PasswordForm({ me }: { me: Me }) {
  const { t } = useTranslation('settings');
  const checks = useChecks();
  const change = useChangePassword();
  const form = useRef<HTMLFormElement>(null);
  const [current, setCurrent] = useState('');
  const [next, setNext] = useState('');
  const [errors, setErrors] = useState<FieldErrors>({});
  const [done, setDone] = useState<string | undefined>();
  const setting = !me.hasPassword;
  // a wrong current password, or a new one found in breach lists, is said at its field
  const fields: FailureFields = { AUTH_WEAK_PASSWORD: 'newPassword', ...(setting ? {} : { AUTH_REAUTH_REQUIRED: 'currentPassword' }) };

  const submit = (e: FormEvent) => {
    e.preventDefault();
    const found: FieldErrors = { ...(setting ? {} : { currentPassword: checks.password(current) }), newPassword: checks.newPassword(next) };
    setErrors(found);
    setDone(undefined);
    if (Object.values(found).some(Boolean)) return focusFirstError(form.current, found);
    change.mutate(
      { newPassword: next, ...(setting ? {} : { currentPassword: current }) },
      {
        onSuccess: () => {
          setCurrent('');
          setNext('');
          setDone(setting ? t('security.password.set') : t('security.password.changed'));
        },
        onError: (err) => showAtField(err, fields, setErrors, form.current),
      },
    );
  };

  return (
    <Section kind="settings" id="password-title" title={setting ? t('security.password.setTitle') : t('security.password.title')}>
      <p className="muted">{setting ? t('security.password.setLead') : t('security.password.lead')}</p>
      <FormAlert title={t('security.password.failed')} message={failureOf(change, t('genericError'), fields)} />
      <Done message={done} />
      <form ref={form} className="form" noValidate onSubmit={submit}>
        {/* the account's address, for password managers: they file the new password under it */}
        <input type="email" name="username" autoComplete="username" value={me.email} readOnly hidden />
        {setting ? null : (
          <Field
            id="currentPassword"
            label={t('security.password.current')}
            type="password"
            autoComplete="current-password"
            required
            value={current}
            error={errors.currentPassword}
            onChange={(e) => (setCurrent(e.target.value), clearIfValid(setErrors, 'currentPassword', checks.password(e.target.value)))}
          />
        )}
        <Field
          id="newPassword"
          label={t('security.password.new')}
          type="password"
          autoComplete="new-password"
          required
          value={next}
          error={errors.newPassword}
          hint={<PasswordHint value={next} />}
          onChange={(e) => (setNext(e.target.value), clearIfValid(setErrors, 'newPassword', checks.newPassword(e.target.value)))}
        />
        <button type="submit" className="button-primary" disabled={change.isPending}>
          {change.isPending ? t('security.password.saving') : setting ? t('security.password.submitSet') : t('security.password.submit')}
        </button>
      </form>
    </Section>
  );
}

/** Move the account to another address: a link to the new one confirms it. */
export function EmailForm({ me }: { me: Me }) {
  const { t } = useTranslation('settings');
  const checks = useChecks();
  const request = useRequestEmailChange();
  const form = useRef<HTMLFormElement>(null);
  const [email, setEmail] = useState('');
  const [current, setCurrent] = useState('');
  const [errors, setErrors] = useState<FieldErrors>({});
  const [sentTo, setSentTo] = useState<string | undefined>();
  // an address already in use (or already this account's), or a wrong password, is said at its field
  const fields: FailureFields = { AUTH_EMAIL_TAKEN: 'newEmail', AUTH_EMAIL_UNCHANGED: 'newEmail', ...(me.hasPassword ? { AUTH_REAUTH_REQUIRED: 'emailPassword' } : {}) };

  const submit = (e: FormEvent) => {
    e.preventDefault();
    const found: FieldErrors = { newEmail: checks.email(email), ...(me.hasPassword ? { emailPassword: checks.password(current) } : {}) };
    setErrors(found);
    setSentTo(undefined);
    if (Object.values(found).some(Boolean)) return focusFirstError(form.current, found);
    const newEmail = email.trim();
    request.mutate(
      { newEmail, ...(me.hasPassword ? { currentPassword: current } : {}) },
      {
        onSuccess: () => {
          setCurrent('');
          setSentTo(newEmail);
        },
        onError: (err) => showAtField(err, fields, setErrors, form.current),
      },
    );
  };

  return (
    <Section kind="settings" id="email-title" title={t('security.email.title')}>
      <p>{t('security.email.current', { email: me.email })}</p>
      <p className="muted">{t('security.email.lead')}</p>
      <FormAlert title={t('security.email.failed')} message={failureOf(request, t('genericError'), fields)} />
      <Done message={sentTo ? t('security.email.sent', { email: sentTo }) : undefined} />
      <form ref={form} className="form" noValidate onSubmit={submit}>
        <Field id="newEmail" label={t('security.email.new')} type="email" autoComplete="email" required value={email} error={errors.newEmail} onChange={(e) => (setEmail(e.target.value), clearIfValid(setErrors, 'newEmail', checks.email(e.target.value)))} />
        {me.hasPassword ? (
          <Field
            id="emailPassword"
            label={t('security.password.current')}
            type="password"
            autoComplete="current-password"
            required
            value={current}
            error={errors.emailPassword}
            onChange={(e) => (setCurrent(e.target.value), clearIfValid(setErrors, 'emailPassword', checks.password(e.target.value)))}
          />
        ) : (
          <p className="field-hint">{t('security.recentHint')}</p>
        )}
        <button type="submit" className="button-primary" disabled={request.isPending}>
          {request.isPending ? t('security.email.sending') : t('security.email.submit')}
        </button>
      </form>
    </Section>
  );
}

/** Link a Google account for signing in, or unlink it (never the only way in). */
export function GoogleLink({ me }: { me: Me }) {
  const { t } = useTranslation('settings');
  const [params, setParams] = useSearchParams();
  const start = useStartGoogleLink();
  const unlink = useUnlinkGoogle();
  const [current, setCurrent] = useState('');
  const [error, setError] = useState<string | undefined>();
  const [done, setDone] = useState<string | undefined>();
  const outcome = params.get('google');
  const known = outcome && GOOGLE_OUTCOMES.has(outcome) ? outcome : undefined;

  // the outcome of a link flow is shown once; the address loses it so a reload does not repeat it
  const [shown] = useState(known);
  useEffect(() => {
    if (outcome) {
      const next = new URLSearchParams(params);
      next.delete('google');
      setParams(next, { replace: true });
    }
  }, [outcome, params, setParams]);

  const busy = start.isPending || unlink.isPending;
  // a wrong password is said at the password field
  const fields: FailureFields = me.hasPassword ? { AUTH_REAUTH_REQUIRED: 'googlePassword' } : {};
  const refusedHere = [start, unlink].find((m) => m.isError && fieldOfFailure(m.error, fields));
  const focusPassword = () => requestAnimationFrame(() => document.getElementById('googlePassword')?.focus());
  const act = (e: FormEvent) => {
    e.preventDefault();
    setDone(undefined);
    if (me.hasPassword && !current) {
      setError(t('security.google.passwordRequired'));
      document.getElementById('googlePassword')?.focus();
      return;
    }
    setError(undefined);
    const password = me.hasPassword ? current : undefined;
    if (me.google)
      unlink.mutate(password, {
        onSuccess: () => {
          setCurrent('');
          setDone(t('security.google.unlinked'));
        },
        onError: focusPassword,
      });
    else start.mutate(password, { onError: focusPassword });
  };

  return (
    <Section kind="settings" id="google-title" title={t('security.google.title')}>
      {shown === 'linked' ? <Done message={t('security.google.linked')} /> : null}
      {shown && shown !== 'linked' ? <FormAlert title={t('security.google.failed')} message={t(`security.google.outcome.${shown}`)} /> : null}
      <FormAlert title={t('security.google.failed')} message={failureOf(start, t('genericError'), fields)} />
      <FormAlert title={t('security.google.unlinkFailed')} message={failureOf(unlink, t('genericError'), fields)} />
      <Done message={done} />
      {/* right after linking, the notice above says it: not said twice */}
      {shown === 'linked' && me.google ? null : <p>{me.google ? t('security.google.isLinked') : t('security.google.notLinked')}</p>}
      {me.google && !me.hasPassword ? (
        <p className="muted">{t('security.google.onlyWay')}</p>
      ) : (
        <form className="form" noValidate onSubmit={act}>
          {me.hasPassword ? (
            <Field
              id="googlePassword"
              label={t('security.password.current')}
              type="password"
              autoComplete="current-password"
              required
              value={current}
              error={error ?? (refusedHere ? problemDetail(refusedHere.error) : undefined)}
              onChange={(e) => (setCurrent(e.target.value), start.reset(), unlink.reset())}
            />
          ) : (
            <p className="field-hint">{t('security.recentHint')}</p>
          )}
          <button type="submit" className="button-quiet" disabled={busy}>
            {me.google ? t('security.google.unlink') : t('security.google.link')}
          </button>
        </form>
      )}
    </Section>
  );
}
