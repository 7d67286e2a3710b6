import { useEffect, useRef, useState, type Dispatch, type FormEvent, type InputHTMLAttributes, type ReactNode, type SetStateAction } from 'react';
import { useTranslation } from 'react-i18next';
import { fieldOfFailure, problemDetail, type FailureFields } from '../api';

/**
 * A message that was shown before the page's language changed is stale: it would stay in the old
 * language (the API's words, or a check's text kept in state), so it is hidden until it changes;
 * the next submit says it again in the new language.
 */
export function useCurrentLanguage(message: string | undefined): string | undefined {
  const { i18n } = useTranslation();
  const [seen, setSeen] = useState({ message, language: i18n.language });
  if (seen.message !== message) setSeen({ message, language: i18n.language });
  return seen.message !== message || seen.language === i18n.language ? message : undefined;
}

/** A labelled input; its error (if any) is tied to it with aria-describedby and aria-invalid. */
export function Field({
  id,
  label,
  error: given,
  hint,
  ...input
}: { id: string; label: string; error?: string | undefined; hint?: ReactNode } & InputHTMLAttributes<HTMLInputElement>) {
  const error = useCurrentLanguage(given);
  const described = [hint ? `${id}-hint` : undefined, error ? `${id}-error` : undefined].filter(Boolean).join(' ') || undefined;
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      <input id={id} name={id} aria-invalid={error ? true : undefined} aria-describedby={described} {...input} />
      {hint ? (
        <p id={`${id}-hint`} className="field-hint">
          {hint}
        </p>
      ) : null}
      {error ? (
        <p id={`${id}-error`} className="field-error">
          {error}
        </p>
      ) : null}
    </div>
  );
}

/**
 * The reason a form did not go through, announced (role=alert) and focused, so a keyboard or
 * screen-reader user lands on it.
 */
export function FormAlert({ message: given, title }: { message: string | undefined; title?: string }) {
  const message = useCurrentLanguage(given);
  const ref = useRef<HTMLDivElement>(null);
  useEffect(() => {
    if (message) ref.current?.focus();
  }, [message]);
  if (!message) return null;
  return (
    <div ref={ref} className="alert" role="alert" tabIndex={-1}>
      {title ? <h2>{title}</h2> : null}
      <p>{message}</p>
    </div>
  );
}

/** Field errors of a form, by field name; focuses the first field with one. */
export type FieldErrors = Partial<Record<string, string>>;
export function focusFirstError(form: HTMLFormElement | null, errors: FieldErrors): void {
  const first = Object.keys(errors).find((k) => errors[k]);
  if (!first || !form) return;
  (form.elements.namedItem(first) as HTMLElement | null)?.focus();
}

/**
 * After a request failed: a refusal about one field (`fields`: its code → the field's id), such as
 * a wrong current password or a password found in breach lists, is shown at that field in the
 * API's words (already in the page's language) and the field is focused; anything else stays for
 * the form's alert (failureOf with the same `fields`).
 */
export function showAtField(err: unknown, fields: FailureFields, setErrors: Dispatch<SetStateAction<FieldErrors>>, form: HTMLFormElement | null): void {
  const field = fieldOfFailure(err, fields);
  if (!field) return;
  setErrors((e) => ({ ...e, [field]: problemDetail(err) }));
  requestAnimationFrame(() => (form?.elements.namedItem(field) as HTMLElement | null)?.focus());
}

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

/** An error shown for `field` goes as soon as its value passes its check (a new one waits for the next submit). */
export function clearIfValid(setErrors: Dispatch<SetStateAction<FieldErrors>>, field: string, problem: string | undefined): void {
  if (!problem) setErrors((e) => (e[field] ? { ...e, [field]: undefined } : e));
}

/**
 * A form whose one field is an email address (`field` is its id): checked on submit, the error
 * focused, else `send(address)` with the address trimmed.
 */
export function useEmailForm(field: string, send: (email: string) => void, initial = '') {
  const checks = useChecks();
  const form = useRef<HTMLFormElement>(null);
  const [email, setEmail] = useState(initial);
  const [error, setError] = useState<string | undefined>();
  const submit = (e: FormEvent) => {
    e.preventDefault();
    const found = checks.email(email);
    setError(found);
    if (found) return focusFirstError(form.current, { [field]: found });
    send(email.trim());
  };
  // an error shown goes as soon as the address is right (a new one waits for the next submit)
  const change = (value: string) => {
    setEmail(value);
    if (error && !checks.email(value)) setError(undefined);
  };
  return { form, email, setEmail: change, error, submit };
}

/** The checks the browser can make before asking the API (the API checks again). */
export function useChecks() {
  const { t } = useTranslation('auth');
  return {
    email: (v: string) => (!v.trim() ? t('errors.emailRequired') : EMAIL.test(v.trim()) ? undefined : t('errors.emailInvalid')),
    password: (v: string) => (!v ? t('errors.passwordRequired') : undefined),
    newPassword: (v: string) => (!v ? t('errors.passwordRequired') : v.length < 8 ? t('errors.passwordShort') : undefined),
  };
}

/** A simple strength hint: length and variety. The API is the judge (it also refuses common ones). */
export function passwordStrength(v: string): 'empty' | 'short' | 'fair' | 'strong' {
  if (!v) return 'empty';
  if (v.length < 8) return 'short';
  const kinds = [/[a-z]/, /[A-Z]/, /\d/, /[^A-Za-z0-9]/].filter((r) => r.test(v)).length;
  return v.length >= 14 || (v.length >= 10 && kinds >= 3) ? 'strong' : 'fair';
}

export function PasswordHint({ value }: { value: string }) {
  const { t } = useTranslation('auth');
  const strength = passwordStrength(value);
  return (
    <span className={`strength strength-${strength}`} aria-live="polite">
      {t(`strength.${strength}`)}
    </span>
  );
}

/** The place a sign-in goes back to: a path of this app, never another site. */
export function safeReturnTo(value: string | null): string {
  return value && value.startsWith('/') && !value.startsWith('//') && !value.startsWith('/\\') ? value : '/';
}
