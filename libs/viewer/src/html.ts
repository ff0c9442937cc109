/**
 * HTML built by a tagged template that escapes every interpolated value unless it is already
 * markup made here (a SafeHtml). This is the one escaping point of the viewer: ids, group names,
 * prompts and model outputs come from data and from a model, so they are hostile by default
 * (`<script>`, `" onmouseover=`, `=HYPERLINK(...)`), and forgetting to escape must be impossible
 * rather than a review item. No template language: the pages are TypeScript functions, checked by
 * the compiler, and a value can only become markup through `html` or `trustedMarkup`.
 */

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;', '`': '&#96;' };

/** Text safe in element content and in quoted attribute values. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"'`]/g, (c) => ESCAPES[c]);
}

export class SafeHtml {
  constructor(readonly markup: string) {}
  toString(): string {
    return this.markup;
  }
}

export type HtmlValue = SafeHtml | string | number | boolean | null | undefined | readonly HtmlValue[];

function render(value: HtmlValue): string {
  if (value === null || value === undefined || value === false) return '';
  if (value instanceof SafeHtml) return value.markup;
  if (Array.isArray(value)) return value.map(render).join('');
  return escapeHtml(String(value));
}

/** `html\`<td>${cell}</td>\``: the literal parts are markup, every value is escaped (arrays are joined). */
export function html(strings: TemplateStringsArray, ...values: HtmlValue[]): SafeHtml {
  let out = strings[0];
  for (let i = 0; i < values.length; i++) out += render(values[i]) + strings[i + 1];
  return new SafeHtml(out);
}

/**
 * Markup produced by a trusted generator (the SVG of a chart library fed with escaped labels,
 * never data text): the only way around escaping, named so a reviewer sees it.
 */
export function trustedMarkup(markup: string): SafeHtml {
  return new SafeHtml(markup);
}
