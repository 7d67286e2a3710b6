import { useTranslation } from 'react-i18next';
import { Page } from '../../components/Page';
import { SignInPrompt } from '../../components/SignInPrompt';
import type { GalleryImage } from '../../api/buy';

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
