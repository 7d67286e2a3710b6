import { useEffect, useId, useRef, useState } from 'react';
import { Link, useLocation } from 'react-router';
import { useTranslation } from 'react-i18next';
import type { Me } from '../api';
import { useBalance, useSignOut } from '../api/queries';

/** The signed-in person's menu: a disclosure button and a list of links (Escape or a click outside closes it). */
export function AccountMenu({ me }: { me: Me }) {
  const { t } = useTranslation();
  const [open, setOpen] = useState(false);
  const id = useId();
  const button = useRef<HTMLButtonElement>(null);
  const panel = useRef<HTMLDivElement>(null);
  const { pathname } = useLocation();
  const balance = useBalance(true);
  const signOut = useSignOut();
  const name = me.displayName || me.email;
  const roles = new Set(me.roles);
  const credits = balance.data ? t('account.credits', { count: balance.data.available }) : undefined;

  // A navigation closes the menu.
  const [shownFor, setShownFor] = useState(pathname);
  if (shownFor !== pathname) {
    setShownFor(pathname);
    setOpen(false);
  }

  useEffect(() => {
    if (!open) return;
    const onKey = (e: KeyboardEvent) => {
      if (e.key === 'Escape') {
        setOpen(false);
        button.current?.focus();
      }
    };
    const onPointer = (e: PointerEvent) => {
      const target = e.target as Node;
      if (!panel.current?.contains(target) && !button.current?.contains(target)) setOpen(false);
    };
    document.addEventListener('keydown', onKey);
    document.addEventListener('pointerdown', onPointer);
    return () => {
      document.removeEventListener('keydown', onKey);
      document.removeEventListener('pointerdown', onPointer);
    };
  }, [open]);

  return (
    <div className="account">
      <button ref={button} type="button" className="account-button" aria-expanded={open} aria-controls={id} onClick={() => setOpen((o) => !o)}>
        {/* Wide screens: the name and the balance; phones: just "Account" (both are in the panel). */}
        <span className="account-name">{name}</span>
        <span className="account-short">{t('account.button')}</span>
        {credits ? <span className="account-credits">{credits}</span> : null}
      </button>
      <div ref={panel} id={id} className="account-panel" hidden={!open}>
        <p className="account-who">{t('account.signedInAs', { name })}</p>
        {credits ? <p className="account-balance">{credits}</p> : null}
        <nav aria-label={t('account.menuLabel')}>
          <ul>
            <li>
              <Link to="/create">{t('account.create')}</Link>
            </li>
            <li>
              <Link to="/library">{t('account.library')}</Link>
            </li>
            <li>
              <Link to="/billing/orders">{t('account.orders')}</Link>
            </li>
            <li>
              <Link to="/settings">{t('account.settings')}</Link>
            </li>
            {roles.has('finance') || roles.has('admin') ? (
              <li>
                <Link to="/finance">{t('account.finance')}</Link>
              </li>
            ) : null}
            {roles.has('ops') || roles.has('admin') ? (
              <li>
                <Link to="/ops">{t('account.ops')}</Link>
              </li>
            ) : null}
            {roles.has('moderator') || roles.has('admin') ? (
              <li>
                <Link to="/moderation">{t('account.moderation')}</Link>
              </li>
            ) : null}
            {roles.has('admin') ? (
              <li>
                <Link to="/back-office">{t('account.admin')}</Link>
              </li>
            ) : null}
          </ul>
        </nav>
        <button type="button" className="button-quiet" disabled={signOut.isPending} onClick={() => signOut.mutate()}>
          {t('account.signOut')}
        </button>
        {signOut.isError ? (
          <p className="form-error" role="alert">
            {t('account.signOutFailed')}
          </p>
        ) : null}
      </div>
    </div>
  );
}
