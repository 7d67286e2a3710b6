import { useEffect, useRef } from 'react';
import { useMutation, useMutationState } from '@tanstack/react-query';
import { useTranslation } from 'react-i18next';
import { failureOf, refusedRule } from '../../api';
import { deleteImage, setPublished, useImageChanged, type GeneratedImage } from '../../api/create';

/**
 * One image full size in a modal dialog (the native <dialog>: focus stays inside, Escape closes):
 * the picture, its prompt, Download, Publish/Unpublish, and Delete behind a confirmation dialog.
 * `onClose(deleted)` runs once it closed; the opener puts focus back where it belongs.
 */
export function ImageDialog({ image, prompt, onClose }: { image: GeneratedImage; prompt: string; onClose: (deleted: boolean) => void }) {
  const { t, i18n } = useTranslation('create');
  const dialog = useRef<HTMLDialogElement>(null);
  const confirm = useRef<HTMLDialogElement>(null);
  const deleteButton = useRef<HTMLButtonElement>(null);
  const deleted = useRef(false);
  const changed = useImageChanged();
  // Publishing is keyed by the image, so a dialog opened again (before the request answered, or
  // before the list it was opened from refreshed) sees it: busy while it runs, then its answer,
  // rather than the state the list held when it was loaded.
  const publishKey = ['image-publish', image.id];
  const publish = useMutation({
    mutationKey: publishKey,
    mutationFn: (next: boolean) => setPublished(image.id, next),
    onSuccess: () => void changed(),
  });
  const publishes = useMutationState({
    filters: { mutationKey: publishKey },
    select: (m) => ({ status: m.state.status, next: m.state.variables as boolean | undefined, published: (m.state.data as { published?: boolean } | undefined)?.published }),
  });
  /** Where a publish under way (from this dialog or one closed before it answered) is taking the image. */
  const publishing = publishes.findLast((p) => p.status === 'pending')?.next;
  const answered = publishes.findLast((p) => p.status === 'success' && p.published !== undefined);
  const published = answered?.published ?? image.published;
  const remove = useMutation({
    mutationFn: () => deleteImage(image.id),
    onSuccess: () => {
      deleted.current = true;
      void changed();
      confirm.current?.close();
      dialog.current?.close();
    },
  });

  useEffect(() => {
    const d = dialog.current;
    if (d && !d.open) d.showModal();
  }, []);

  // Publishing re-checks the content policy: a refusal names its rule in the page's language.
  const refused = publish.isError ? refusedRule(publish.error, i18n.language) : undefined;
  const what = refused?.field === 'negativePrompt' || refused?.field === 'image' ? refused.field : 'prompt';
  const publishFailure = refused ? t('image.policy', { what: t(`image.policyWhat.${what}`), rule: refused.text }) : failureOf(publish, t('errors.generic'));
  const titleId = `image-${image.id}-title`;
  const confirmId = `image-${image.id}-confirm`;
  return (
    <dialog ref={dialog} className="image-dialog" aria-labelledby={titleId} onClose={(e) => e.target === e.currentTarget && onClose(deleted.current)}>
      <div className="image-dialog-head">
        <h2 id={titleId}>{t('image.title')}</h2>
        <button type="button" className="button-quiet" onClick={() => dialog.current?.close()}>
          {t('image.close')}
        </button>
      </div>
      <figure className="image-full">
        <img src={image.url} alt={prompt} width={image.width} height={image.height} />
        <figcaption>
          <span className="prompt-text">{prompt}</span>
          <span className="muted">
            {' · '}
            {image.width}×{image.height}
          </span>
        </figcaption>
      </figure>
      <p className="image-state" role="status">
        {published ? t('image.published') : t('image.private')}
      </p>
      {publishFailure ? (
        <p className="form-error" role="alert">
          {publishFailure}
        </p>
      ) : null}
      <div className="actions image-actions">
        <a className="button" href={image.url} download={`imagemakerlab-${image.id}.png`}>
          {t('image.download')}
        </a>
        <button type="button" className="button-quiet" disabled={publishing !== undefined} onClick={() => publish.mutate(!published)}>
          {publishing === undefined ? (published ? t('image.unpublish') : t('image.publish')) : publishing ? t('image.publishing') : t('image.unpublishing')}
        </button>
        <button ref={deleteButton} type="button" className="button-quiet button-danger" onClick={() => confirm.current?.showModal()}>
          {t('image.delete')}
        </button>
      </div>
      <dialog ref={confirm} className="confirm-dialog" aria-labelledby={confirmId} onClose={(e) => {
          // React passes a nested dialog's close on to its parents: only this one's own counts
          e.stopPropagation();
          if (!deleted.current) deleteButton.current?.focus();
        }}
      >
        <h2 id={confirmId}>{t('image.confirmTitle')}</h2>
        <p>{published ? t('image.confirmTextPublished') : t('image.confirmText')}</p>
        {failureOf(remove, t('errors.generic')) ? (
          <p className="form-error" role="alert">
            {failureOf(remove, t('errors.generic'))}
          </p>
        ) : null}
        <div className="actions">
          <button type="button" className="button-quiet" onClick={() => confirm.current?.close()}>
            {t('image.keep')}
          </button>
          <button type="button" className="button button-danger-solid" disabled={remove.isPending} onClick={() => remove.mutate()}>
            {remove.isPending ? t('image.deleting') : t('image.confirmDelete')}
          </button>
        </div>
      </dialog>
    </dialog>
  );
}
