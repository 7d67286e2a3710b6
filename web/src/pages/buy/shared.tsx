import type { TFunction } from 'i18next';
import { useTranslation } from 'react-i18next';
import { Page } from '../../components/Page';
import { SignInPrompt } from '../../components/SignInPrompt';
import type { GalleryImage } from '../../api/buy';

/**
 * How the gallery's texts name an image's author: their display name, or "anonymous" in the page's
 * language with the `anonymous` context (Chinese puts no space between 匿名 and the words around
 * it, as it does around a Latin name).
 */
export function authorOf(t: TFunction, image: GalleryImage): { name: string; context?: 'anonymous' } {
  return image.author.displayName === null ? { name: t('gallery:anonymous'), context: 'anonymous' } : { name: image.author.displayName };
}

/** The Intl locale of the page's language. */
export function intlLocale(language: string | undefined): string {
  return language === 'zh' ? 'zh-CN' : 'en-US';
}

/** A page of one's own, signed out: the page's heading and a way to sign in that comes back here. */
export function SignInPage({ title, text }: { title: string; text?: string }) {
  const { t } = useTranslation('billing');
  return (
    <Page title={title} className="narrow">
      <SignInPrompt heading={t('signInTitle')} text={text ?? t('signInText')} signIn={t('signIn')} />
    </Page>
  );
}

/** A gallery thumbnail (WebP, loaded when near): its box has the image's own shape, so nothing moves when it arrives. */
export function Thumb({ image, alt }: { image: GalleryImage; alt: string }) {
  return <img src={image.thumbUrl} alt={alt} width={image.width} height={image.height} loading="lazy" decoding="async" />;
}
