import { useEffect, useId, useRef, type ReactNode } from 'react';
import { Link, useLocation } from 'react-router';

/** For a signed-out visitor: why there is nothing here, and the way in (back to this address after). */
export function SignInPrompt({ text, signIn, children }: { text: string; signIn: string; children?: ReactNode }) {
  const { pathname, search } = useLocation();
  return (
    <div className="notice">
      <p>{text}</p>
      <p className="actions-row">
        <Link className="button" to={`/sign-in?returnTo=${encodeURIComponent(pathname + search)}`}>
          {signIn}
        </Link>
        {children}
      </p>
    </div>
  );
}

/**
 * A confirmation: the native modal <dialog> (the rest of the page is inert, focus stays inside,
 * Escape cancels, focus returns to the button that opened it).
 */
export function ConfirmDialog({
  open,
  title,
  text,
  confirm,
  cancel,
  busy,
  onConfirm,
  onClose,
}: {
  open: boolean;
  title: string;
  text: ReactNode;
  confirm: string;
  cancel: string;
  busy?: boolean;
  onConfirm: () => void;
  onClose: () => void;
}) {
  const ref = useRef<HTMLDialogElement>(null);
  const id = useId();
  useEffect(() => {
    const dialog = ref.current;
    if (!dialog) return;
    if (open && !dialog.open) dialog.showModal();
    if (!open && dialog.open) dialog.close();
  }, [open]);
  return (
    <dialog ref={ref} className="confirm" aria-labelledby={`${id}-title`} aria-describedby={`${id}-text`} onClose={onClose}>
      <h2 id={`${id}-title`}>{title}</h2>
      <div id={`${id}-text`}>{text}</div>
      <div className="actions-row">
        <button type="button" className="button-quiet" autoFocus onClick={onClose}>
          {cancel}
        </button>
        <button type="button" className="button-danger" disabled={busy} onClick={onConfirm}>
          {confirm}
        </button>
      </div>
    </dialog>
  );
}

export const dateTime = (lang: string, iso: string) =>
  new Intl.DateTimeFormat(lang === 'zh' ? 'zh-CN' : 'en-GB', { dateStyle: 'medium', timeStyle: 'short' }).format(new Date(iso));
export const dateOnly = (lang: string, iso: string) => new Intl.DateTimeFormat(lang === 'zh' ? 'zh-CN' : 'en-GB', { dateStyle: 'long' }).format(new Date(iso));
export const number = (lang: string, n: number, signed = false) =>
  new Intl.NumberFormat(lang === 'zh' ? 'zh-CN' : 'en-US', signed ? { signDisplay: 'exceptZero' } : {}).format(n);
export const money = (lang: string, minor: number, currency: string) =>
  new Intl.NumberFormat(lang === 'zh' ? 'zh-CN' : 'en-US', { style: 'currency', currency: currency.toUpperCase() }).format(minor / 100);
