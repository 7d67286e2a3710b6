import type { EmailTemplate } from '@imlab/contracts';
import type { Locale } from '../db.js';

/**
 * What a template says, as plain strings only. The layout escapes every one of them for HTML, so
 * no template can put user data into markup unescaped: there is no way to pass raw HTML.
 */
export interface EmailContent {
  subject: string;
  /** Preview line shown by mail clients next to the subject. */
  preheader: string;
  greeting: string;
  paragraphs: string[];
  /** Label/value rows, e.g. a receipt. */
  facts?: [string, string][];
  action?: { label: string; url: string };
  /** Quieter closing line ("if this was not you …"). */
  footnote?: string;
}

export interface RenderedEmail {
  template: EmailTemplate;
  locale: Locale;
  subject: string;
  html: string;
  text: string;
  /** The action link, if any: only the development mailbox logs it. */
  link?: string;
}
