import type { EmailTemplate } from '@imlab/contracts';
import type { Locale } from '../db.js';
import type { RenderedEmail } from './content.js';
import { TemplateData } from './data.js';
import { layoutHtml, layoutText } from './layout.js';
import { TEMPLATES } from './templates.js';

export interface RenderInput {
  template: EmailTemplate;
  locale: Locale;
  data: Record<string, string | number | boolean | null>;
  publicBaseUrl: string;
  /** The contact's display name, used when data carries none. */
  displayName?: string;
}

/** Renders one email, HTML and text, from the shared layout. Throws TemplateDataError on bad data. */
export function renderEmail(input: RenderInput): RenderedEmail {
  const data = new TemplateData(input.data, input.locale, input.publicBaseUrl, input.displayName);
  const content = TEMPLATES[input.template][input.locale](data);
  return {
    template: input.template,
    locale: input.locale,
    subject: content.subject,
    html: layoutHtml(input.locale, content),
    text: layoutText(input.locale, content),
    ...(content.action ? { link: content.action.url } : {}),
  };
}
