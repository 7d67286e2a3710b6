import { useTranslation } from 'react-i18next';
import { monthsOfYear } from '../../i18n/dates';

/** How many years back the field offers: the books' whole life, for a shop opened in this decade. */
const YEARS = 10;

/**
 * A calendar month (`YYYY-MM`) as two choices, the month's name and the year, in the page's
 * language and its order (English "March 2025", Chinese "2025年 3月"). Not `<input type=month>`:
 * Firefox and Safari on the desktop draw that as a plain text box, and Chromium draws it in its own
 * interface language rather than the page's.
 */
export function MonthField({ id, label, value, onChange }: { id: string; label: string; value: string; onChange: (month: string) => void }) {
  const { t, i18n } = useTranslation('finance');
  const [year, month] = value.split('-') as [string, string];
  const thisYear = new Date().getUTCFullYear();
  const years = Array.from({ length: YEARS }, (_, i) => String(thisYear - i));
  // a month from further back than the list stays what it is rather than silently becoming another
  if (!years.includes(year)) years.push(year);
  const monthSelect = (
    <select key="month" id={`${id}-month`} aria-label={t('monthEnd.monthOfYear')} value={month} onChange={(e) => onChange(`${year}-${e.target.value}`)}>
      {monthsOfYear(i18n.language).map((name, i) => {
        const mm = String(i + 1).padStart(2, '0');
        return (
          <option key={mm} value={mm}>
            {name}
          </option>
        );
      })}
    </select>
  );
  const yearSelect = (
    <select key="year" id={`${id}-year`} aria-label={t('monthEnd.year')} value={year} onChange={(e) => onChange(`${e.target.value}-${month}`)}>
      {years.map((y) => (
        <option key={y} value={y}>
          {i18n.language === 'zh' ? `${y}年` : y}
        </option>
      ))}
    </select>
  );
  return (
    <fieldset className="field month-field" id={id}>
      <legend>{label}</legend>
      <div className="month-field-choices">{i18n.language === 'zh' ? [yearSelect, monthSelect] : [monthSelect, yearSelect]}</div>
    </fieldset>
  );
}
