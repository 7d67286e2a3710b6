import { useEffect, useRef, useState, type FormEvent } from 'react';
import { Link, useNavigate, useSearchParams } from 'react-router';
import { useTranslation } from 'react-i18next';
import { Page } from '../components/Page';
import { Field, FormAlert, clearIfValid, focusFirstError, safeReturnTo, useChecks, type FieldErrors } from '../components/Form';
import { ApiError, failureOf } from '../api';
import { useSignIn, useSignInMethods } from '../api/queries';
import { useRestoreAccount } from '../api/account';
import { longDay } from '../i18n/dates';
import { ResendConfirmation } from '../components/ResendConfirmation';

const KNOWN = new Set(['oauth_state', 'oauth_failed', 'oauth_unavailable', 'email_unverified', 'account_conflict', 'account_disabled', 'link_requires_password', 'google_account_mismatch']);

/** Email and password, or Google (where configured); `?returnTo=` is where to go after; `?error=` is why a Google sign-in came back here. */
export default function SignIn() {
  const { t } = useTranslation('auth');
  const { t: tc } = useTranslation();
  const [params] = useSearchParams();
  const navigate = useNavigate();
  const checks = useChecks();
  const form = useRef<HTMLFormElement>(null);
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [errors, setErrors] = useState<FieldErrors>({});
  const signIn = useSignIn();
  // Google is offered only where this deployment can take a person there; if the API cannot say,
  // it is offered as before (the start answers for itself).
  const methods = useSignInMethods();
  const google = methods.isError || methods.data?.google === true;
  const [kept, setKept] = useState(false);
  const returnTo = safeReturnTo(params.get('returnTo'));
  const error = params.get('error');
  const googleMessage = error && error !== 'deletion_scheduled' ? tc(`signInErrors.${KNOWN.has(error) ? error : 'unknown'}`) : undefined;
  // The account is scheduled for deletion and the sign-in proved it is theirs: offer to keep it.
  // From the password form, the answer carries the token; from Google, the address's fragment does,
  // read once: keeping the account takes the spent token out of the address, and what it says (kept)
  // must stay on screen after that.
  const [fromGoogle] = useState(() => (error === 'deletion_scheduled' ? fromFragment() : undefined));
  const scheduled = scheduledDeletion(signIn.error) ?? fromGoogle;

  const submit = (e: FormEvent) => {
    e.preventDefault();
    const found: FieldErrors = { email: checks.email(email), password: checks.password(password) };
    setErrors(found);
    if (Object.values(found).some(Boolean)) return focusFirstError(form.current, found);
    signIn.mutate({ email: email.trim(), password }, { onSuccess: () => void navigate(returnTo, { replace: true }) });
  };

  return (
    <Page title={t('signIn.title')} lead={scheduled ? undefined : t(google ? 'signIn.lead' : 'signIn.leadPasswordOnly')} className="narrow">
      {googleMessage && !signIn.isError ? (
        <div className="alert" role="alert">
          <h2>{tc('signInErrors.title')}</h2>
          <p>{googleMessage}</p>
        </div>
      ) : null}
      {scheduled ? <KeepAccount {...scheduled} returnTo={returnTo} onKept={() => setKept(true)} /> : <FormAlert title={t('errors.signInTitle')} message={failureOf(signIn, t('errors.generic'))} />}
      {/* The right password to an address not confirmed yet: the new link, to the address typed. */}
      {signIn.error instanceof ApiError && signIn.error.code === 'AUTH_EMAIL_NOT_VERIFIED' && signIn.variables ? <ResendConfirmation key={signIn.variables.email} email={signIn.variables.email} /> : null}
      {/* The account is closing and the sign-in proved it theirs: one choice at a time (keep it, or leave the page). */}
      {kept || scheduled ? null : (
        <>
      <form ref={form} className="form" noValidate onSubmit={submit}>
        <Field id="email" label={t('fields.email')} type="email" autoComplete="email" required value={email} error={errors.email} onChange={(e) => (setEmail(e.target.value), clearIfValid(setErrors, 'email', checks.email(e.target.value)))} />
        <Field
          id="password"
          label={t('fields.password')}
          type="password"
          autoComplete="current-password"
          required
          value={password}
          error={errors.password}
          onChange={(e) => (setPassword(e.target.value), clearIfValid(setErrors, 'password', checks.password(e.target.value)))}
        />
        <button type="submit" className="button-primary" disabled={signIn.isPending}>
          {signIn.isPending ? t('signIn.submitting') : t('signIn.submit')}
        </button>
      </form>
      <p>
        <Link to="/forgot-password">{t('signIn.forgot')}</Link>
      </p>
      {google ? (
        <>
          <p className="or">{t('signIn.or')}</p>
          <p>
            <a className="button-google" href={`/v1/auth/google/start?returnTo=${encodeURIComponent(returnTo)}`}>
              {t('signIn.google')}
            </a>
          </p>
        </>
      ) : null}
      <p>
        {t('signIn.noAccount')} <Link to="/sign-up">{t('signIn.toSignUp')}</Link>
      </p>
        </>
      )}
    </Page>
  );
}

interface Scheduled {
  token: string;
  purgeAfter: string;
}

function scheduledDeletion(err: unknown): Scheduled | undefined {
  if (!(err instanceof ApiError) || err.code !== 'AUTH_DELETION_SCHEDULED') return undefined;
  const extra = err.problem as unknown as Record<string, unknown>;
  return typeof extra.restoreToken === 'string' && typeof extra.purgeAfter === 'string' ? { token: extra.restoreToken, purgeAfter: extra.purgeAfter } : undefined;
}

function fromFragment(): Scheduled | undefined {
  const f = new URLSearchParams(location.hash.slice(1));
  const token = f.get('restore');
  const purgeAfter = f.get('purgeAfter');
  return token && purgeAfter ? { token, purgeAfter } : undefined;
}

/** The account is closing: when, and a button that keeps it (and signs in). */
function KeepAccount({ token, purgeAfter, returnTo, onKept }: Scheduled & { returnTo: string; onKept: () => void }) {
  const { t, i18n } = useTranslation('auth');
  const restore = useRestoreAccount();
  const ref = useRef<HTMLDivElement>(null);
  const kept = restore.isSuccess;
  useEffect(() => ref.current?.focus(), [kept]);
  if (kept) {
    return (
      <div ref={ref} className="notice notice-done" role="status" tabIndex={-1}>
        <h2>{t('keep.keptTitle')}</h2>
        <p>{t('keep.kept')}</p>
        <p>
          <Link to={returnTo === '/' ? '/library' : returnTo}>{t('keep.continue')}</Link>
        </p>
      </div>
    );
  }
  return (
    <div ref={ref} className="notice" role="alert" tabIndex={-1}>
      <h2>{t('keep.title')}</h2>
      <p>{t('keep.text', { date: longDay(i18n.language, purgeAfter) })}</p>
      <FormAlert message={failureOf(restore, t('errors.generic'))} />
      <button
        type="button"
        className="button-primary"
        disabled={restore.isPending}
        onClick={() =>
          restore.mutate(token, {
            // the token is spent: it leaves the address bar (and the history) with the fragment
            onSuccess: () => {
              history.replaceState(history.state, '', location.pathname + location.search);
              onKept();
            },
          })
        }
      >
        {restore.isPending ? t('keep.submitting') : t('keep.submit')}
      </button>
    </div>
  );
}
