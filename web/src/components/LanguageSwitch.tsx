import { useQueryClient } from '@tanstack/react-query';
import { useTranslation } from 'react-i18next';
import { switchLocale } from '../i18n';
import { queryKeys, useMe } from '../api/queries';

/**
 * 中文 / English: labelled in the language it switches to. Signed in, the account's language
 * follows too (`PATCH /v1/me`, in the order of the switches), so emails come in it; if that
 * fails, the switch still stands.
 */
export function LanguageSwitch() {
  const { t, i18n } = useTranslation();
  const me = useMe();
  const client = useQueryClient();
  const target = i18n.resolvedLanguage === 'zh' ? 'en' : 'zh';
  const onClick = () => {
    void switchLocale(target);
    // Every switch is saved, even one the account seems to have already: the account's writes go
    // in the order made (updateAccount), so the last switch is the last save, whatever answered before.
    if (me.data) {
      // loaded on first use: the account's calls stay out of the first page's code
      void import('../api/account')
        .then((m) => m.saveLocale(target))
        .then((saved) => saved && client.setQueryData(queryKeys.me, saved))
        .catch(() => undefined);
    }
  };
  return (
    <button type="button" className="language-switch" lang={t('language.switchLang')} title={t('language.switchTitle')} onClick={onClick}>
      {t('language.switch')}
    </button>
  );
}
