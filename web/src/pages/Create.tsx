import { useEffect, useMemo, useRef, useState, type DragEvent, type FormEvent } from 'react';
import { Link, useNavigate } from 'react-router';
import { useTranslation } from 'react-i18next';
import type { ImageType } from '@imlab/client';
import { Page } from '../components/Page';
import { FormAlert, type FieldErrors } from '../components/Form';
import { AccountGate } from '../components/create/AccountGate';
import { fieldErrorText, fieldOfError, shortfallOf } from '../components/create/outcome';
import { failureOf, problemDetail } from '../api';
import { useBalance } from '../api/queries';
import { useRequestKey } from '../api/request-key';
import {
  uploadReference,
  useCreateGeneration,
  useDebounced,
  useGenerationOptions,
  useQuote,
  type AspectRatio,
  type GenerationRequest,
  type Tier,
  type TierId,
} from '../api/create';
import '../styles/create.css';

/** The largest upload the API takes (UPLOAD_MAX_BYTES): checked here first, to say so at once. */
const MAX_UPLOAD_BYTES = 10 * 1024 * 1024;

interface Reference {
  key: string;
  name: string;
  preview: string;
  status: 'uploading' | 'done' | 'failed';
  uploadId?: string;
  error?: string;
}

export default function Create() {
  const { t } = useTranslation('create');
  return <AccountGate title={t('title')}>{() => <CreateForm />}</AccountGate>;
}

function CreateForm() {
  const { t } = useTranslation('create');
  const options = useGenerationOptions();
  if (options.data) return <CreateWithOptions tiers={options.data.tiers} />;
  return (
    <Page title={t('title')} lead={t('lead')}>
      {options.isError ? (
        <div className="alert" role="alert">
          <p>{problemDetail(options.error) ?? t('optionsFailed')}</p>
        </div>
      ) : (
        <p className="loading" role="status">
          {t('loading')}
        </p>
      )}
    </Page>
  );
}

function CreateWithOptions({ tiers }: { tiers: Tier[] }) {
  const { t, i18n } = useTranslation('create');
  const navigate = useNavigate();
  const form = useRef<HTMLFormElement>(null);
  const insufficientRef = useRef<HTMLDivElement>(null);
  const [tierId, setTierId] = useState<TierId>(((tiers.find((x) => x.id === 'imlab-standard') ?? tiers[0])?.id ?? 'imlab-standard') as TierId);
  const tier = tiers.find((x) => x.id === tierId) ?? tiers[0]!;
  const ratios = Object.keys(tier.aspectRatios) as AspectRatio[];
  const [aspect, setAspect] = useState<AspectRatio>('1:1');
  const aspectRatio: AspectRatio = ratios.includes(aspect) ? aspect : (ratios[0] ?? '1:1');
  const [countValue, setCount] = useState(1);
  const count = Math.min(countValue, tier.maxCount);
  const [prompt, setPrompt] = useState('');
  const [negative, setNegative] = useState('');
  const [seed, setSeed] = useState('');
  const [refs, setRefs] = useState<Reference[]>([]);
  const [refMessages, setRefMessages] = useState<string[]>([]);
  const [dragging, setDragging] = useState(false);
  const [errors, setErrors] = useState<FieldErrors>({});
  const balance = useBalance(true);
  const create = useCreateGeneration();
  const requestKey = useRequestKey();

  // Object URLs of the previews live as long as the page (or until removed).
  const previews = useRef(new Set<string>());
  useEffect(() => {
    const urls = previews.current;
    return () => {
      for (const url of urls) URL.revokeObjectURL(url);
      urls.clear();
    };
  }, []);

  const uploadIds = refs.filter((r) => r.status === 'done' && r.uploadId).map((r) => r.uploadId!);
  const body = useMemo<GenerationRequest>(
    () => ({
      prompt: prompt.trim(),
      model: tierId,
      aspectRatio,
      count,
      ...(tier.negativePrompt && negative.trim() ? { negativePrompt: negative.trim() } : {}),
      ...(tier.seed && seed.trim() !== '' && Number.isInteger(Number(seed)) ? { seed: Number(seed) } : {}),
      ...(tier.references && uploadIds.length ? { referenceUploadIds: uploadIds.slice(0, tier.references.max) } : {}),
    }),
    // eslint-disable-next-line react-hooks/exhaustive-deps -- uploadIds is derived from refs
    [prompt, tierId, aspectRatio, count, negative, seed, refs, tier],
  );
  const settled = useDebounced(body, 400);
  const quote = useQuote(settled.prompt ? settled : undefined);
  const size = tier.aspectRatios[aspectRatio] ?? '1024x1024';
  const estimate = (tier.sizes.find((s) => s.size === size)?.creditsPerImage ?? tier.creditsPerImage) * count;
  const cost = quote.data && !quote.isPlaceholderData ? quote.data.cost : estimate;
  const available = balance.data?.available;
  const short = available !== undefined && cost > available ? cost - available : 0;
  // The quote's refusal of the prompt (the content policy) is shown as the person writes.
  const quoteField = quote.isError ? fieldOfError(quote.error) : undefined;
  const fieldError = (id: string) => errors[id] ?? (quoteField === id && settled.prompt === body.prompt && settled.negativePrompt === body.negativePrompt ? fieldErrorText(t, i18n.language, quote.error) : undefined);
  const shortfall = shortfallOf(create.error, cost, available);
  const submitFailure = create.isError && shortfall === undefined && !fieldOfError(create.error) ? failureOf(create, t('errors.generic')) : undefined;

  useEffect(() => {
    if (shortfall !== undefined) insufficientRef.current?.focus();
  }, [shortfall]);

  const addFiles = (files: Iterable<File>) => {
    const max = tier.references?.max ?? 0;
    const formats = tier.references?.formats ?? [];
    const messages: string[] = [];
    let room = max - refs.length;
    const added: Reference[] = [];
    for (const file of files) {
      if (!formats.includes(file.type)) {
        messages.push(t('refs.wrongType', { name: file.name }));
        continue;
      }
      if (file.size > MAX_UPLOAD_BYTES) {
        messages.push(t('refs.tooBig', { name: file.name }));
        continue;
      }
      if (room <= 0) {
        messages.push(t('refs.tooMany', { count: max }));
        break;
      }
      room--;
      const key = `${Date.now()}-${Math.random().toString(36).slice(2)}`;
      const preview = URL.createObjectURL(file);
      previews.current.add(preview);
      added.push({ key, name: file.name, preview, status: 'uploading' });
      uploadReference(file, file.type as ImageType).then(
        (uploadId) => setRefs((all) => all.map((r) => (r.key === key ? { ...r, status: 'done', uploadId } : r))),
        (err: unknown) => setRefs((all) => all.map((r) => (r.key === key ? { ...r, status: 'failed', error: problemDetail(err) ?? t('errors.generic') } : r))),
      );
    }
    setRefMessages(messages);
    if (added.length) setRefs((all) => [...all, ...added]);
    setErrors((e) => ({ ...e, references: undefined }));
  };

  const removeRef = (key: string, index: number) => {
    setRefs((all) => {
      const gone = all.find((r) => r.key === key);
      if (gone) {
        URL.revokeObjectURL(gone.preview);
        previews.current.delete(gone.preview);
      }
      return all.filter((r) => r.key !== key);
    });
    setRefMessages([]);
    setErrors((e) => ({ ...e, references: undefined }));
    // focus goes to the next preview's Remove button, else to the file input
    requestAnimationFrame(() => {
      const buttons = form.current?.querySelectorAll<HTMLButtonElement>('.ref-remove');
      (buttons?.[Math.min(index, (buttons?.length ?? 1) - 1)] ?? form.current?.querySelector<HTMLInputElement>('#references'))?.focus();
    });
  };

  const onDrop = (e: DragEvent<HTMLDivElement>) => {
    e.preventDefault();
    setDragging(false);
    if (tier.references) addFiles(Array.from(e.dataTransfer.files));
  };

  const submit = (e: FormEvent) => {
    e.preventDefault();
    const found: FieldErrors = {};
    if (!prompt.trim()) found.prompt = t('errors.promptRequired');
    if (tier.seed && seed.trim() !== '' && !/^\d+$/.test(seed.trim())) found.seed = t('errors.seedInvalid');
    if (tier.references && refs.some((r) => r.status === 'uploading')) found.references = t('errors.waitUploads');
    // one that failed would be left out silently, and the generation made and charged without it
    else if (tier.references && refs.some((r) => r.status === 'failed')) found.references = t('errors.failedUploads');
    setErrors(found);
    const first = Object.keys(found).find((k) => found[k]);
    if (first) return document.getElementById(first)?.focus();
    // The same key until answered: a retry after a lost answer opens the generation made the first time.
    create.mutate(
      { body, key: requestKey.keyFor(body) },
      {
        onSuccess: (accepted) => void navigate(`/generations/${accepted.id}`),
        onError: (err) => {
          requestKey.answered(err);
          const field = fieldOfError(err);
          if (!field) return;
          setErrors({ [field]: fieldErrorText(t, i18n.language, err) ?? t('errors.generic') });
          requestAnimationFrame(() => (field === 'model' ? form.current?.querySelector<HTMLInputElement>('input[name=model]:checked') : document.getElementById(field))?.focus());
        },
      },
    );
  };

  const tierText = (x: Tier, what: 'label' | 'description') => t(`common:tiers.${x.id}.${what}`, { defaultValue: x[what] });
  const describedBy = (id: string, hint: boolean) => [hint ? `${id}-hint` : '', fieldError(id) ? `${id}-error` : ''].filter(Boolean).join(' ') || undefined;
  const err = (id: string) =>
    fieldError(id) ? (
      <p id={`${id}-error`} className="field-error">
        {fieldError(id)}
      </p>
    ) : null;

  return (
    <Page title={t('title')} lead={t('lead')} className="create">
      <FormAlert title={t('errors.title')} message={submitFailure} />
      {shortfall !== undefined ? (
        <div ref={insufficientRef} className="alert" role="alert" tabIndex={-1}>
          <h2>{t('errors.insufficientTitle')}</h2>
          <p>{t('errors.insufficient', { count: shortfall })}</p>
          <p>
            <Link to={`/pricing?shortfall=${shortfall}`}>{t('errors.toPricing', { count: shortfall })}</Link>
          </p>
        </div>
      ) : null}
      <form ref={form} className="create-form" noValidate onSubmit={submit}>
        <div className="create-main">
          <div className="field">
            <label htmlFor="prompt">{t('fields.prompt')}</label>
            <textarea
              id="prompt"
              name="prompt"
              rows={5}
              maxLength={2000}
              required
              value={prompt}
              aria-invalid={fieldError('prompt') ? true : undefined}
              aria-describedby={describedBy('prompt', true)}
              onChange={(e) => {
                setPrompt(e.target.value);
                setErrors((x) => ({ ...x, prompt: undefined }));
              }}
            />
            <p id="prompt-hint" className="field-hint">
              {t('fields.promptHint')}
            </p>
            {err('prompt')}
          </div>
          {tier.negativePrompt ? (
            <div className="field">
              <label htmlFor="negativePrompt">{t('fields.negativePrompt')}</label>
              <textarea
                id="negativePrompt"
                name="negativePrompt"
                rows={2}
                maxLength={2000}
                value={negative}
                aria-invalid={fieldError('negativePrompt') ? true : undefined}
                aria-describedby={describedBy('negativePrompt', true)}
                onChange={(e) => {
                  setNegative(e.target.value);
                  setErrors((x) => ({ ...x, negativePrompt: undefined }));
                }}
              />
              <p id="negativePrompt-hint" className="field-hint">
                {t('fields.negativeHint')}
              </p>
              {err('negativePrompt')}
            </div>
          ) : null}
          {tier.references ? (
            <div
              className={dragging ? 'field drop-zone dragging' : 'field drop-zone'}
              onDragOver={(e) => {
                e.preventDefault();
                setDragging(true);
              }}
              onDragLeave={() => setDragging(false)}
              onDrop={onDrop}
            >
              <label htmlFor="references">{t('fields.references')}</label>
              <p id="references-hint" className="field-hint">
                {t('fields.referencesHint', { count: tier.references.max, formats: tier.references.formats.map((f) => f.replace('image/', '').toUpperCase()).join(', ') })}
              </p>
              <input
                id="references"
                name="references"
                type="file"
                multiple
                accept={tier.references.formats.join(',')}
                disabled={refs.length >= tier.references.max}
                aria-invalid={fieldError('references') ? true : undefined}
                aria-describedby={describedBy('references', true)}
                onChange={(e) => {
                  if (e.target.files) addFiles(Array.from(e.target.files));
                  e.target.value = '';
                }}
              />
              <label htmlFor="references" className="file-button" aria-hidden="true">
                {t('fields.chooseFiles', { count: tier.references.max })}
              </label>
              {err('references')}
              <div role="alert" className="ref-messages">
                {refMessages.map((m) => (
                  <p key={m} className="field-error">
                    {m}
                  </p>
                ))}
              </div>
              {refs.length ? (
                <ul className="ref-list">
                  {refs.map((r, i) => (
                    <li key={r.key} className={`ref ref-${r.status}`}>
                      <img src={r.preview} alt={t('refs.alt', { n: i + 1, name: r.name })} />
                      <span className="ref-status" aria-live="polite">
                        {r.status === 'uploading' ? t('refs.uploading') : r.status === 'done' ? t('refs.uploaded') : t('refs.failed', { reason: r.error })}
                      </span>
                      <button type="button" className="ref-remove" aria-label={t('refs.remove', { n: i + 1, name: r.name })} onClick={() => removeRef(r.key, i)}>
                        {t('refs.removeShort')}
                      </button>
                    </li>
                  ))}
                </ul>
              ) : null}
            </div>
          ) : refs.length ? (
            <p className="notice">{t('fields.noReferences', { tier: tierText(tier, 'label') })}</p>
          ) : null}
        </div>

        <div className="create-side">
          <fieldset className="tiers" aria-describedby={fieldError('model') ? 'model-error' : undefined}>
            <legend>{t('fields.tier')}</legend>
            {tiers.map((x) => {
              const price = x.sizes.find((s) => s.size === (x.aspectRatios[aspectRatio] ?? size))?.creditsPerImage ?? x.creditsPerImage;
              return (
                <label key={x.id} className="tier-option">
                  <input type="radio" name="model" value={x.id} checked={x.id === tierId} onChange={() => setTierId(x.id as TierId)} />
                  <span className="tier-text">
                    <span className="tier-name">{tierText(x, 'label')}</span>
                    <span className="tier-desc">{tierText(x, 'description')}</span>
                  </span>
                  <span className="tier-price">{t('fields.tierPrice', { count: price })}</span>
                </label>
              );
            })}
            {err('model')}
          </fieldset>
          <div className="field">
            <label htmlFor="aspectRatio">{t('fields.aspectRatio')}</label>
            <select
              id="aspectRatio"
              name="aspectRatio"
              value={aspectRatio}
              aria-invalid={fieldError('aspectRatio') ? true : undefined}
              aria-describedby={describedBy('aspectRatio', false)}
              onChange={(e) => setAspect(e.target.value as AspectRatio)}
            >
              {ratios.map((r) => (
                <option key={r} value={r}>
                  {t('fields.aspectOption', { ratio: r, size: (tier.aspectRatios[r] ?? '').replace('x', '×') })}
                </option>
              ))}
            </select>
            {err('aspectRatio')}
          </div>
          <div className="field">
            <label htmlFor="count">{t('fields.count')}</label>
            <select id="count" name="count" value={count} aria-invalid={fieldError('count') ? true : undefined} aria-describedby={describedBy('count', false)} onChange={(e) => setCount(Number(e.target.value))}>
              {Array.from({ length: tier.maxCount }, (_, i) => i + 1).map((n) => (
                <option key={n} value={n}>
                  {n}
                </option>
              ))}
            </select>
            {err('count')}
          </div>
          {tier.seed ? (
            <div className="field">
              <label htmlFor="seed">{t('fields.seed')}</label>
              <input
                id="seed"
                name="seed"
                type="text"
                inputMode="numeric"
                autoComplete="off"
                value={seed}
                aria-invalid={fieldError('seed') ? true : undefined}
                aria-describedby={describedBy('seed', true)}
                onChange={(e) => setSeed(e.target.value)}
              />
              <p id="seed-hint" className="field-hint">
                {t('fields.seedHint')}
              </p>
              {err('seed')}
            </div>
          ) : null}

          <div className="price-box">
            <p className="price" aria-live="polite" aria-atomic="true">
              <span className="price-label">{t('price.label')}</span> <strong className="price-cost">{t('price.cost', { count: cost })}</strong>{' '}
              <span className="muted">{t('price.detail', { count, size: size.replace('x', '×') })}</span>
            </p>
            {!settled.prompt ? <p className="muted price-note">{t('price.estimate')}</p> : null}
            {available !== undefined ? <p className="price-balance">{t('price.balance', { count: available })}</p> : null}
            {/* short of credits: buying them is the main action; Create stays (the balance shown may be behind) */}
            {short > 0 ? (
              <>
                <p className="price-short">{t('price.short', { count: short })}</p>
                <Link className="button create-buy" to={`/pricing?shortfall=${short}`}>
                  {t('price.buy')}
                </Link>
              </>
            ) : null}
            <button type="submit" className={short > 0 ? 'button-quiet create-submit' : 'button-primary create-submit'} disabled={create.isPending}>
              {create.isPending ? t('submitting') : t('submit')}
            </button>
          </div>
        </div>
      </form>
    </Page>
  );
}
