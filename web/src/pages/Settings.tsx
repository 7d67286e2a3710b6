import { useEffect, useRef, useState, type FormEvent } from 'react';
import { Link, useParams } from 'react-router';
import { useMutation } from '@tanstack/react-query';
import { useTranslation } from 'react-i18next';
import { Page } from '../components/Page';
import { Loaded, LoadError } from '../components/Loaded';
import { Field, FormAlert } from '../components/Form';
import { failureOf, fieldOfFailure, hasStatus, problemDetail, refusedRule, type FailureFields, type Me } from '../api';
import { useBalance, useMe, useSignInMethods } from '../api/queries';
import {
  saveFile,
  useCreditHistory,
  useDeleteAccount,
  useExport,
  useRevokeSession,
  useSessions,
  useSignOutEverywhere,
  useStartExport,
  useUpdateAccount,
  type CreditLine,
} from '../api/account';
import { switchLocale } from '../i18n';
import { isLocale, type Locale } from '../i18n/locale';
import { ConfirmDialog, Section, SignInPrompt, number } from './account/common';
import { dateTime, longDay } from '../i18n/dates';
import { EmailForm, GoogleLink, PasswordForm } from './account/SignInMethods';
import { OrderList } from './Orders';
import '../styles/account.css';

const SECTIONS = ['profile', 'security', 'credits', 'orders', 'privacy'] as const;
type Section = (typeof SECTIONS)[number];

/** Why the account's sessions just ended here: shown on the signed-out page that follows. */
type Ended = { kind: 'everywhere' } | { kind: 'deleted'; purgeAfter: string };

/** `/settings` and `/settings/:section`: profile, security, credits, orders, privacy. */
export default function Settings() {
  const { t } = useTranslation('settings');
  const { section: param } = useParams();
  const section: Section = (SECTIONS as readonly string[]).includes(param ?? '') ? (param as Section) : 'profile';
  const me = useMe();
  const [ended, setEnded] = useState<Ended | undefined>();

  if (me.isPending) {
    return (
      <Page title={t('title')} className="settings">
        <p className="loading" role="status">
          {t('loading')}
        </p>
      </Page>
    );
  }
  if (me.isError) {
    return (
      <Page title={t('title')} className="settings">
        <FormAlert message={t('loadFailed')} />
        <button type="button" className="button-quiet" onClick={() => void me.refetch()}>
          {t('retry')}
        </button>
      </Page>
    );
  }
  if (!me.data) return <SignedOut ended={ended} />;

  return (
    <Page title={t('title')} lead={t('lead')} className="settings">
      <div className="settings-layout">
        <nav className="settings-nav" aria-label={t('sections.label')}>
          <ul>
            {SECTIONS.map((s) => (
              <li key={s}>
                {/* /settings is the profile too: the current section is marked, whichever address */}
                <Link to={`/settings/${s}`} aria-current={s === section ? 'page' : undefined}>
                  {t(`sections.${s}`)}
                </Link>
              </li>
            ))}
          </ul>
        </nav>
        <div className="settings-body">
          {section === 'profile' ? <Profile me={me.data} /> : null}
          {section === 'security' ? <Security me={me.data} onEnded={() => setEnded({ kind: 'everywhere' })} /> : null}
          {section === 'credits' ? <Credits /> : null}
          {section === 'orders' ? <Orders /> : null}
          {section === 'privacy' ? <Privacy me={me.data} onDeleted={(purgeAfter) => setEnded({ kind: 'deleted', purgeAfter })} /> : null}
        </div>
      </div>
    </Page>
  );
}

function SignedOut({ ended }: { ended: Ended | undefined }) {
  const { t, i18n } = useTranslation('settings');
  const status = useRef<HTMLDivElement>(null);
  useEffect(() => {
    if (ended) status.current?.focus();
  }, [ended]);
  return (
    <Page title={t('title')} className="settings narrow">
      {ended ? (
        <div ref={status} className="notice notice-done" role="status" tabIndex={-1}>
          <p>{ended.kind === 'deleted' ? t('ended.deleted', { date: longDay(i18n.language, ended.purgeAfter) }) : t('ended.everywhere')}</p>
        </div>
      ) : null}
      {ended?.kind === 'deleted' ? (
        <p>
          <Link to="/">{t('signedOut.home')}</Link>
        </p>
      ) : (
        <SignInPrompt text={t('signedOut.text')} signIn={t('signedOut.signIn')}>
          <Link to="/sign-up">{t('signedOut.signUp')}</Link>
        </SignInPrompt>
      )}
    </Page>
  );
}


function Profile({ me }: { me: Me }) {
  const { t, i18n } = useTranslation('settings');
  const [displayName, setDisplayName] = useState(me.displayName);
  // The language as chosen here; until then the account's, which the header's switch also changes
  // (a value copied once would send the old language back with the next name change).
  const [chosenLocale, setLocale] = useState<Locale | undefined>();
  const locale = chosenLocale ?? me.locale;
  const [error, setError] = useState<string | undefined>();
  const update = useUpdateAccount();
  const nameRef = useRef<HTMLFormElement>(null);

  const submit = (e: FormEvent) => {
    e.preventDefault();
    if ([...displayName].length > 64) {
      setError(t('profile.displayNameLong'));
      (nameRef.current?.elements.namedItem('displayName') as HTMLElement | null)?.focus();
      return;
    }
    setError(undefined);
    const sentName = displayName.trim();
    const sentLocale = chosenLocale;
    const pageLocale = i18n.language;
    update.mutate(
      { displayName: sentName, ...(sentLocale ? { locale: sentLocale } : {}) },
      {
        onSuccess: (saved) => {
          // What was typed or chosen while it saved stays; what was sent now reads as saved.
          setDisplayName((typed) => (typed.trim() === sentName ? saved.displayName : typed));
          setLocale((chosen) => (chosen === sentLocale ? undefined : chosen));
          // The page follows the language this form saved, unless the header's switch was used
          // meanwhile (its save comes after this one: the person's last choice wins). A save of
          // the name alone never moves the page.
          if (sentLocale && i18n.language === pageLocale && saved.locale !== i18n.language) void switchLocale(saved.locale);
        },
        onError: (err) => {
          if (refusedRule(err, i18n.language)) requestAnimationFrame(() => (nameRef.current?.elements.namedItem('displayName') as HTMLElement | null)?.focus());
        },
      },
    );
  };

  // A name the content policy refuses is said at the field, naming the rule in the page's language.
  const nameRefused = update.isError ? refusedRule(update.error, i18n.language) : undefined;

  return (
    <Section kind="settings" id="profile-title" title={t('sections.profile')}>
      <FormAlert title={t('profile.failedTitle')} message={nameRefused ? undefined : failureOf(update, t('genericError'))} />
      <form ref={nameRef} className="form" noValidate onSubmit={submit}>
        <div className="field">
          <span className="field-label">{t('profile.email')}</span>
          <span className="field-value">{me.email}</span>
        </div>
        <Field
          id="displayName"
          label={t('profile.displayName')}
          type="text"
          autoComplete="nickname"
          value={displayName}
          error={error ?? (nameRefused ? t('profile.displayNamePolicy', { rule: nameRefused.text }) : undefined)}
          hint={t('profile.displayNameHint')}
          onChange={(e) => setDisplayName(e.target.value)}
        />
        <div className="field">
          <label htmlFor="locale">{t('profile.language')}</label>
          <select id="locale" name="locale" aria-describedby="locale-hint" value={locale} onChange={(e) => isLocale(e.target.value) && setLocale(e.target.value)}>
            <option value="en">English</option>
            <option value="zh" lang="zh-Hans">
              中文
            </option>
          </select>
          <p id="locale-hint" className="field-hint">
            {t('profile.languageHint')}
          </p>
        </div>
        <div className="actions-row">
          <button type="submit" className="button-primary" disabled={update.isPending}>
            {update.isPending ? t('profile.saving') : t('profile.save')}
          </button>
          <span className="saved" role="status">
            {update.isSuccess ? t('profile.saved') : ''}
          </span>
        </div>
      </form>
    </Section>
  );
}

/** What signing out everywhere leaves this account to sign in again with. */
function wayBackIn(me: Me, googleHere: boolean): string {
  const google = me.google && googleHere;
  if (google) return me.hasPassword ? 'security.everywhereConfirmTextBoth' : 'security.everywhereConfirmTextGoogle';
  return me.hasPassword ? 'security.everywhereConfirmText' : 'security.everywhereConfirmTextReset';
}

function Security({ me, onEnded }: { me: Me; onEnded: () => void }) {
  const { t, i18n } = useTranslation('settings');
  const sessions = useSessions(true);
  const revoke = useRevokeSession();
  const everywhere = useSignOutEverywhere();
  const methods = useSignInMethods();
  const [confirming, setConfirming] = useState(false);
  // the session ended last, by id: two devices named alike are two changes (each moves the focus)
  const [revoked, setRevoked] = useState<{ id: string; device: string } | undefined>();
  // The device's browser and system, as the API names them, in a sentence of the page's language.
  const deviceName = ({ browser, os }: { browser: string | null; os: string | null }) => {
    const name = browser === 'Bot' ? t('security.device.bot') : browser;
    if (name && os) return t('security.device.on', { browser: name, os });
    if (name) return name;
    if (os) return t('security.device.browserOn', { os });
    return t('security.device.unknown');
  };
  const status = useRef<HTMLParagraphElement>(null);
  // after a revoke its button is gone: focus goes to the sentence saying what happened
  useEffect(() => {
    if (revoked) status.current?.focus();
  }, [revoked]);

  return (
    <>
      <Section kind="settings" id="sessions-title" title={t('security.sessionsTitle')}>
        <p className="muted">{t('security.sessionsLead')}</p>
        <FormAlert title={t('security.revokeFailed')} message={failureOf(revoke, t('genericError'))} />
        <p ref={status} className="status-line" role="status" tabIndex={-1}>
          {revoked ? t('security.revoked', { device: revoked.device }) : ''}
        </p>
        <Loaded query={sessions} loading={t('security.loading')} fallback={t('security.sessionsError')}>
          {(data) => (
            <ul className="session-list">
              {data.items.map((s) => (
                <li key={s.id} className="session">
                  <div>
                    <p className="session-device">
                      {deviceName(s)}
                      {s.current ? <span className="badge session-current">{t('security.current')}</span> : null}
                    </p>
                    <p className="muted session-when">
                      {t('security.signedIn', { date: dateTime(i18n.language, s.createdAt) })} · {t('security.lastSeen', { date: dateTime(i18n.language, s.lastSeenAt) })}
                    </p>
                  </div>
                  {s.current ? null : (
                    <button
                      type="button"
                      className="button-quiet"
                      aria-label={t('security.revokeLabel', { device: deviceName(s), date: dateTime(i18n.language, s.createdAt) })}
                      disabled={revoke.isPending}
                      onClick={() =>
                        revoke.mutate(s.id, {
                          onSuccess: () => setRevoked({ id: s.id, device: deviceName(s) }),
                        })
                      }
                    >
                      {t('security.revoke')}
                    </button>
                  )}
                </li>
              ))}
            </ul>
          )}
        </Loaded>
      </Section>
      <Section kind="settings" id="everywhere-title" title={t('security.everywhereTitle')}>
        <p>{t('security.everywhereText')}</p>
        <FormAlert title={t('security.everywhereFailed')} message={failureOf(everywhere, t('genericError'))} />
        <button type="button" className="button-quiet" disabled={everywhere.isPending} onClick={() => setConfirming(true)}>
          {t('security.everywhere')}
        </button>
        <ConfirmDialog
          open={confirming}
          title={t('security.everywhereConfirmTitle')}
          text={<p>{t(wayBackIn(me, methods.data?.google !== false))}</p>}
          confirm={t('security.everywhere')}
          cancel={t('cancel')}
          busy={everywhere.isPending}
          onClose={() => setConfirming(false)}
          onConfirm={() => {
            // the dialog closes first (focus goes back to its button), then the outcome is shown
            setConfirming(false);
            everywhere.mutate(undefined, { onSuccess: onEnded });
          }}
        />
      </Section>
      <PasswordForm me={me} />
      <EmailForm me={me} />
      {/* Linking needs Google configured here; an account linked already can still see and unlink it. */}
      {methods.data?.google || me.google ? <GoogleLink me={me} /> : null}
    </>
  );
}

function CreditRow({ line }: { line: CreditLine }) {
  const { t, i18n } = useTranslation('settings');
  return (
    <li className="credit-line">
      <div className="credit-what">
        <span className={`badge credit-kind credit-kind-${line.kind}`}>{t(`credits.kind.${line.kind}`)}</span>
        <span className="credit-description">{line.description}</span>
        {line.generationId ? (
          <Link className="credit-link" to={`/generations/${line.generationId}`}>
            {t('credits.viewGeneration')}
          </Link>
        ) : null}
        <time className="muted credit-when" dateTime={line.createdAt}>
          {dateTime(i18n.language, line.createdAt)}
        </time>
      </div>
      <span className={line.amount < 0 ? 'credit-amount negative' : 'credit-amount positive'}>{number(i18n.language, line.amount, true)}</span>
    </li>
  );
}

function Credits() {
  const { t, i18n } = useTranslation('settings');
  const lang = i18n.language;
  const balance = useBalance(true);
  const history = useCreditHistory(true, lang);
  const lines = history.data?.pages.flatMap((p) => p.items) ?? [];
  return (
    <Section kind="settings" id="credits-title" title={t('credits.title')}>
      {balance.data ? <p className="credit-balance">{t('credits.balance', { available: number(lang, balance.data.available), held: number(lang, balance.data.held) })}</p> : null}
      <Loaded query={history} loading={t('credits.loading')} fallback={t('credits.error')}>
        {() =>
          lines.length === 0 ? (
            <p className="empty">{t('credits.empty')}</p>
          ) : (
            <>
              <ul className="credit-list" aria-label={t('credits.tableLabel')}>
                {lines.map((line) => (
                  <CreditRow key={line.id} line={line} />
                ))}
              </ul>
              {history.isFetchNextPageError ? <LoadError error={history.error} fallback={t('credits.error')} retry={() => void history.fetchNextPage()} /> : null}
              {history.hasNextPage ? (
                <button type="button" className="button-quiet" disabled={history.isFetchingNextPage} onClick={() => void history.fetchNextPage()}>
                  {history.isFetchingNextPage ? t('credits.loadingMore') : t('credits.more')}
                </button>
              ) : null}
            </>
          )
        }
      </Loaded>
    </Section>
  );
}

function Orders() {
  const { t } = useTranslation('settings');
  return (
    <Section kind="settings" id="orders-title" title={t('orders.title')}>
      <p>{t('orders.text')}</p>
      <OrderList Heading="h3" />
    </Section>
  );
}

/** The export this tab started last (there is no list of exports): shown again when the person comes back. */
const exportKey = (userId: string) => `imlab-export:${userId}`;
function rememberedExport(userId: string): string | undefined {
  try {
    return sessionStorage.getItem(exportKey(userId)) ?? undefined;
  } catch {
    return undefined;
  }
}

function Export({ userId }: { userId: string }) {
  const { t, i18n } = useTranslation('settings');
  const [remembered] = useState(() => rememberedExport(userId));
  const start = useStartExport();
  const current = useExport(start.data?.id ?? remembered);
  const download = useMutation({ mutationFn: (path: string) => saveFile(path, `imagemakerlab-export.zip`) });
  // an export that expired (404) is simply forgotten; a check that failed otherwise keeps what was
  // known and is tried again (said below)
  const gone = current.isError && hasStatus(current.error, 404);
  const state = gone ? start.data : (current.data ?? start.data);
  const checkFailed = current.isError && !gone;
  const downloadButton = useRef<HTMLButtonElement>(null);
  const ready = state?.status === 'ready' && state.downloadUrl;
  // focus goes to the download once the export this visit waited for is ready (not on arrival)
  const seen = useRef<string | undefined>(undefined);
  useEffect(() => {
    if (ready && seen.current && seen.current !== 'ready') downloadButton.current?.focus();
    seen.current = state?.status;
  }, [ready, state?.status]);

  return (
    <Section kind="settings" id="export-title" title={t('privacy.exportTitle')}>
      <p>{t('privacy.exportText')}</p>
      <FormAlert title={t('privacy.exportStartFailed')} message={failureOf(start, t('genericError'))} />
      <div className="export-status" aria-live="polite">
        {state && (state.status === 'pending' || state.status === 'running') ? <p className="loading">{t('privacy.exportPending')}</p> : null}
        {state?.status === 'failed' ? <p className="form-error">{t('privacy.exportFailed')}</p> : null}
        {checkFailed && state?.status !== 'ready' && state?.status !== 'failed' ? <p className="muted">{t('privacy.exportCheckFailed')}</p> : null}
        {ready ? <p className="notice-done">{t('privacy.exportReady', { date: dateTime(i18n.language, state.expiresAt ?? state.createdAt) })}</p> : null}
      </div>
      {ready ? (
        <button ref={downloadButton} type="button" className="button" disabled={download.isPending} onClick={() => download.mutate(state.downloadUrl!)}>
          {t('privacy.exportDownload')}
        </button>
      ) : (
        <button
          type="button"
          className="button-quiet"
          disabled={start.isPending || (!!state && state.status !== 'failed')}
          onClick={() =>
            start.mutate(undefined, {
              onSuccess: (e) => {
                try {
                  sessionStorage.setItem(exportKey(userId), e.id);
                } catch {
                  // private mode: not remembered
                }
              },
            })
          }
        >
          {start.isPending ? t('privacy.exportStarting') : t('privacy.exportStart')}
        </button>
      )}
      <FormAlert title={t('privacy.exportDownloadFailed')} message={failureOf(download, t('genericError'))} />
    </Section>
  );
}

function DeleteAccount({ me, onDeleted }: { me: Me; onDeleted: (purgeAfter: string) => void }) {
  const { t } = useTranslation('settings');
  const [password, setPassword] = useState('');
  const [error, setError] = useState<string | undefined>();
  const [confirming, setConfirming] = useState(false);
  const remove = useDeleteAccount();
  const form = useRef<HTMLFormElement>(null);
  // a wrong password is said at the password field
  const fields: FailureFields = me.hasPassword ? { AUTH_REAUTH_REQUIRED: 'deletePassword' } : {};
  const refused = remove.isError && fieldOfFailure(remove.error, fields) ? problemDetail(remove.error) : undefined;

  const submit = (e: FormEvent) => {
    e.preventDefault();
    if (me.hasPassword && !password) {
      setError(t('privacy.passwordRequired'));
      (form.current?.elements.namedItem('deletePassword') as HTMLElement | null)?.focus();
      return;
    }
    setError(undefined);
    remove.reset();
    setConfirming(true);
  };

  return (
    <Section kind="settings" id="delete-title" title={t('privacy.deleteTitle')}>
      <p>{t('privacy.deleteLead')}</p>
      <ul className="delete-facts">
        <li>{t('privacy.deleteNow')}</li>
        <li>{t('privacy.deleteLater')}</li>
        <li>{t('privacy.deleteKept')}</li>
        <li>{t('privacy.deleteCredits')}</li>
      </ul>
      <p>
        <Link to="/privacy">{t('privacy.deleteMore')}</Link>
      </p>
      <FormAlert title={t('privacy.deleteFailed')} message={failureOf(remove, t('genericError'), fields)} />
      <form ref={form} className="form" noValidate onSubmit={submit}>
        {me.hasPassword ? (
          <Field
            id="deletePassword"
            label={t('privacy.password')}
            type="password"
            autoComplete="current-password"
            required
            value={password}
            error={error ?? refused}
            onChange={(e) => (setPassword(e.target.value), remove.reset())}
          />
        ) : (
          <p className="muted">{t('privacy.noPassword')}</p>
        )}
        <button type="submit" className="button-danger" disabled={remove.isPending}>
          {remove.isPending ? t('privacy.deleting') : t('privacy.delete')}
        </button>
      </form>
      <ConfirmDialog
        open={confirming}
        title={t('privacy.deleteConfirmTitle')}
        text={<p>{t('privacy.deleteConfirmText')}</p>}
        confirm={t('privacy.deleteConfirm')}
        cancel={t('cancel')}
        onClose={() => setConfirming(false)}
        onConfirm={() => {
          // the dialog closes first (focus goes back to the form), then the outcome is shown
          setConfirming(false);
          remove.mutate(me.hasPassword ? password : undefined, {
            onSuccess: (answer) => onDeleted(answer.purgeAfter),
            onError: (err) => void (fieldOfFailure(err, fields) && requestAnimationFrame(() => document.getElementById('deletePassword')?.focus())),
          });
        }}
      />
    </Section>
  );
}

function Privacy({ me, onDeleted }: { me: Me; onDeleted: (purgeAfter: string) => void }) {
  return (
    <>
      <Export userId={me.id} />
      <DeleteAccount me={me} onDeleted={onDeleted} />
    </>
  );
}
