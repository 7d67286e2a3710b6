/**
 * CSV as RFC 4180 says (comma separated, CRLF line ends, fields with a comma, quote or line break
 * quoted, quotes doubled), plus one guard: a text cell a spreadsheet would run as a formula
 * (`=`, `+`, `-`, `@`, tab, CR first) gets a leading `'`. Numbers are written as they are, so
 * negative amounts stay numbers.
 */
export type CsvValue = string | number | boolean | null | undefined;

export function csvCell(v: CsvValue): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  const s = /^[=+\-@\t\r]/.test(v) ? `'${v}` : v;
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export function csvLine(values: readonly CsvValue[]): string {
  return `${values.map(csvCell).join(',')}\r\n`;
}

/**
 * A CSV document from a header and pages of rows: each page is turned into text as it comes, so
 * a report of any length streams with flat memory. Column order is the header's, fixed per report.
 */
export async function* csvStream<T>(columns: readonly (keyof T & string)[], pages: AsyncIterable<readonly T[]>): AsyncGenerator<string> {
  yield csvLine(columns);
  for await (const page of pages) {
    if (page.length === 0) continue;
    yield page.map((row) => csvLine(columns.map((c) => row[c] as CsvValue))).join('');
  }
}
