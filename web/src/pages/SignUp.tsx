import { useRef, useState, type FormEvent } from 'react';
import { Link } from 'react-router';
import { useMutation } from '@tanstack/react-query';
import { useTranslation } from 'react-i18next';
import { Page } from '../components/Page';
import { Field, FormAlert, PasswordHint, clearIfValid, focusFirstError, showAtField, useChecks, type FieldErrors } from '../components/Form';
import { failureOf, refusedRule, signUp, type FailureFields } from '../api';
import type { Locale } from '../i18n/locale';
import { ResendConfirmation } from '../components/ResendConfirmation';


/** A password found in breach lists is said at the password field. */
const FIELDS: FailureFields = { AUTH_WEAK_PASSWORD: 'password' };
export default function SignUp() {
  const { t, i18n } = useTranslation('auth');
  const checks = useChecks();
  const form = useRef<HTMLFormElement>(null);
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [displayName, setDisplayName] = useState('');
  const [locale, setLocale] = useState<Locale>(i18n.language === 'zh' ? 'zh' : 'en');
  const [errors, setErrors] = useState<FieldErrors>({});
  const mutation = useMutation({ mutationFn: signUp });

  const submit = (e: FormEvent) => {
    e.preventDefault();
    const found: FieldErrors = { email: checks.email(email), password: checks.newPassword(password) };
    setErrors(found);
    if (Object.values(found).some(Boolean)) return focusFirstError(form.current, found);
    mutation.mutate(
      { email: email.trim(), password, locale, ...(displayName.trim() ? { displayName: displayName.trim() } : {}) },
      {
        onError: (err) => {
          if (refusedRule(err, i18n.language)) requestAnimationFrame(() => document.getElementById('displayName')?.focus());
          else showAtField(err, FIELDS, setErrors, form.current);
        },
      },
    );
  };

  // A name the content policy refuses is said at the field, naming the rule in the page's language.
  const nameRefused = mutation.isError ? refusedRule(mutation.error, i18n.language) : undefined;

  if (mutation.isSuccess) {
    return (
      <Page title={t('signUp.sentTitle')} className="narrow">
        <div className="notice" role="status">
          <p>{t('signUp.sent', { email: email.trim() })}</p>
        </div>
        <p className="muted">{t('signUp.sentHelp')}</p>
        <ResendConfirmation email={email.trim()} />
        <p>
          <Link to="/sign-in">{t('signUp.toSignIn')}</Link>
        </p>
      </Page>
    );
  }

  return (
    <Page title={t('signUp.title')} lead={t('signUp.lead')} className="narrow">
      <FormAlert title={t('errors.title')} message={nameRefused ? undefined : failureOf(mutation, t('errors.generic'), FIELDS)} />
      <form ref={form} className="form" noValidate onSubmit={submit}>
        <Field id="email" label={t('fields.email')} type="email" autoComplete="email" required value={email} error={errors.email} onChange={(e) => (setEmail(e.target.value), clearIfValid(setErrors, 'email', checks.email(e.target.value)))} />
        <Field
          id="password"
          label={t('fields.password')}
          type="password"
          autoComplete="new-password"
          required
          value={password}
          error={errors.password}
          hint={<PasswordHint value={password} />}
          onChange={(e) => (setPassword(e.target.value), clearIfValid(setErrors, 'password', checks.newPassword(e.target.value)))}
        />
        <Field
          id="displayName"
          label={t('fields.displayName')}
          type="text"
          autoComplete="nickname"
          maxLength={64}
          value={displayName}
          error={nameRefused ? t('errors.displayNamePolicy', { rule: nameRefused.text }) : undefined}
          onChange={(e) => setDisplayName(e.target.value)}
        />
        <div className="field">
          <label htmlFor="locale">{t('fields.locale')}</label>
          <select id="locale" name="locale" value={locale} onChange={(e) => setLocale(e.target.value === 'zh' ? 'zh' : 'en')}>
            <option value="en">English</option>
            <option value="zh" lang="zh-Hans">
              中文
            </option>
          </select>
        </div>
        <button type="submit" className="button-primary" disabled={mutation.isPending}>
          {mutation.isPending ? t('signUp.submitting') : t('signUp.submit')}
        </button>
      </form>
      <p>
        {t('signUp.haveAccount')} <Link to="/sign-in">{t('signUp.toSignIn')}</Link>
      </p>
    </Page>
  );
}
