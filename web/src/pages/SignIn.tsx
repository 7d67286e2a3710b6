import { useRef, useState, type FormEvent } from 'react';
import { Link, useNavigate, useSearchParams } from 'react-router';
import { useTranslation } from 'react-i18next';
import { Page } from '../components/Page';
import { Field, FormAlert, focusFirstError, safeReturnTo, useChecks, type FieldErrors } from '../components/Form';
import { failureOf } from '../api';
import { useSignIn } from '../api/queries';

const KNOWN = new Set(['oauth_state', 'oauth_failed', 'oauth_unavailable', 'email_unverified', 'account_conflict', 'account_disabled', 'link_requires_password']);

/** Email and password, or Google; `?returnTo=` is where to go after; `?error=` is why a Google sign-in came back here. */
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
  const returnTo = safeReturnTo(params.get('returnTo'));
  const error = params.get('error');
  const googleMessage = error ? tc(`signInErrors.${KNOWN.has(error) ? error : 'unknown'}`) : undefined;

  const submit = (e: FormEvent) => {
    e.preventDefault();
    const found: FieldErrors = { email: checks.email(email), password: checks.password(password) };
    setErrors(found);
    if (Object.values(found).some(Boolean)) return focusFirstError(form.current, found);
    signIn.mutate({ email: email.trim(), password }, { onSuccess: () => void navigate(returnTo, { replace: true }) });
  };

  return (
    <Page title={t('signIn.title')} lead={t('signIn.lead')} className="narrow">
      {googleMessage && !signIn.isError ? (
        <div className="alert" role="alert">
          <h2>{tc('signInErrors.title')}</h2>
          <p>{googleMessage}</p>
        </div>
      ) : null}
      <FormAlert title={t('errors.signInTitle')} message={failureOf(signIn, t('errors.generic'))} />
      <form ref={form} className="form" noValidate onSubmit={submit}>
        <Field id="email" label={t('fields.email')} type="email" autoComplete="email" required value={email} error={errors.email} onChange={(e) => setEmail(e.target.value)} />
        <Field
          id="password"
          label={t('fields.password')}
          type="password"
          autoComplete="current-password"
          required
          value={password}
          error={errors.password}
          onChange={(e) => setPassword(e.target.value)}
        />
        <button type="submit" className="button-primary" disabled={signIn.isPending}>
          {signIn.isPending ? t('signIn.submitting') : t('signIn.submit')}
        </button>
      </form>
      <p>
        <Link to="/forgot-password">{t('signIn.forgot')}</Link>
      </p>
      <p className="or">{t('signIn.or')}</p>
      <p>
        <a className="button-google" href={`/v1/auth/google/start?returnTo=${encodeURIComponent(returnTo)}`}>
          {t('signIn.google')}
        </a>
      </p>
      <p>
        {t('signIn.noAccount')} <Link to="/sign-up">{t('signIn.toSignUp')}</Link>
      </p>
    </Page>
  );
}
