import { useTranslation } from 'react-i18next';

/** A ledger account type in the page's language (the API's name when there is no word for it). */
export const useAccountType = () => {
  const { t } = useTranslation('finance');
  return (type: string) => t(`trial.types.${type}`, { defaultValue: type });
};

/** A word for one of the API's codes, and under it the code as the API and the CSVs name it, where the two differ. */
export function CodeName({ label, code }: { label: string; code: string }) {
  return (
    <>
      {label}
      {label.toLowerCase() === code ? null : <span className="account-id">{code}</span>}
    </>
  );
}

/** An account type's word, and under it the type as the API names it. */
export function AccountTypeName({ type }: { type: string }) {
  return <CodeName label={useAccountType()(type)} code={type} />;
}
