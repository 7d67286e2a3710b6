import { useTranslation } from 'react-i18next';
import { switchLocale } from '../i18n';

/** 中文 / English: labelled in the language it switches to. */
export function LanguageSwitch() {
  const { t, i18n } = useTranslation();
  const target = i18n.resolvedLanguage === 'zh' ? 'en' : 'zh';
  return (
    <button type="button" className="language-switch" lang={t('language.switchLang')} title={t('language.switchTitle')} onClick={() => void switchLocale(target)}>
      {t('language.switch')}
    </button>
  );
}
