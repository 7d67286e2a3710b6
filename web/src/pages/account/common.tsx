import { useEffect, useId, useRef, type ReactNode } from 'react';
import { formatMoney } from '../../api/money';

export { SignInPrompt } from '../../components/SignInPrompt';

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

export const number = (lang: string, n: number, signed = false) =>
  new Intl.NumberFormat(lang === 'zh' ? 'zh-CN' : 'en-US', signed ? { signDisplay: 'exceptZero' } : {}).format(n);
/** An amount in the currency's minor unit (cents; yen have none), as the pricing pages show it. */
export const money = (lang: string, minor: number, currency: string) => formatMoney(minor, currency, lang);

/** A titled part of a settings, finance or back-office page (`kind` picks its card style). */
export function Section({ id, title, kind, children }: { id: string; title: string; kind: 'settings' | 'finance'; children: ReactNode }) {
  return (
    <section className={`${kind}-section`} aria-labelledby={id}>
      <h2 id={id}>{title}</h2>
      {children}
    </section>
  );
}
