import { viewedFeatures, type Entity, type ProfileView } from '@assay/data';

/** System and user message templates. Placeholders: {profile} {group} {item} {question} {min} {max}. */
export interface PromptTemplates {
  system: string;
  user: string;
}

export const DEFAULT_PROMPT_TEMPLATES: PromptTemplates = {
  system:
    'You are simulating the survey respondent whose profile is given below. Answer every question ' +
    'as that person would. Reply with a number only: no words, no units, no explanation.',
  // Keep "between {min} and {max}": the simulator reads the valid range from that phrase.
  user:
    "Profile of the respondent:\n{profile}\n\nIn study '{group}', question '{item}': {question}\n" +
    'Answer with a single number between {min} and {max}.',
};

export const PLACEHOLDERS = ['profile', 'group', 'item', 'question', 'min', 'max'] as const;
export type Placeholder = (typeof PLACEHOLDERS)[number];
/** Placeholders whose value changes from item to item: they must come after {profile}. */
export const ITEM_PLACEHOLDERS: readonly Placeholder[] = ['group', 'item', 'question', 'min', 'max'];

/** Only identifier-like names are placeholders, so literal braces such as JSON examples pass through. */
const PLACEHOLDER_RE = /\{([A-Za-z_][A-Za-z0-9_]*)\}/g;

export class TemplateError extends Error {
  override name = 'TemplateError';
}

/** The placeholder names used in a template, in order of appearance. */
export function placeholdersOf(template: string): string[] {
  return [...template.matchAll(PLACEHOLDER_RE)].map((m) => m[1]);
}

/**
 * Single-pass substitution: values are inserted verbatim and never scanned again, so a question
 * or id containing "{profile}" stays literal. An unknown placeholder is an error naming it.
 */
export function substitute(template: string, values: Record<Placeholder, string>, templateName: string): string {
  return template.replace(PLACEHOLDER_RE, (whole, name: string) => {
    if (!(PLACEHOLDERS as readonly string[]).includes(name)) {
      throw new TemplateError(`${templateName} template: unknown placeholder {${name}}; known: ${PLACEHOLDERS.map((p) => `{${p}}`).join(' ')}`);
    }
    return values[name as Placeholder];
  });
}

/** Template-level rules, checked once before any rendering. */
export function validateTemplates(templates: PromptTemplates): void {
  for (const [name, text] of [['system', templates.system], ['user', templates.user]] as const) {
    const unknown = placeholdersOf(text).filter((p) => !(PLACEHOLDERS as readonly string[]).includes(p));
    if (unknown.length > 0) {
      throw new TemplateError(`${name} template: unknown placeholder(s) ${unknown.map((p) => `{${p}}`).join(' ')}; known: ${PLACEHOLDERS.map((p) => `{${p}}`).join(' ')}`);
    }
  }
  // Exactly one profile: without it the model knows nothing of the entity; twice makes the
  // shared prefix ambiguous.
  const profiles = placeholdersOf(templates.system).concat(placeholdersOf(templates.user)).filter((p) => p === 'profile').length;
  if (profiles !== 1) {
    throw new TemplateError(`prompt templates must contain {profile} exactly once (system + user), found ${profiles}`);
  }
}

/**
 * "feature: value" lines in file order. With a profile view (the config's `profile` section):
 * only the columns it shows, each under its heading ("Trust in science (1-5): 4"); without one,
 * every column under its own name, as always.
 */
export function renderProfile(entity: Entity, view: ProfileView | null = null): string {
  if (view === null) return entity.values.map((value, i) => `${entity.featureNames[i]}: ${value}`).join('\n');
  return viewedFeatures(entity, view)
    .map(([column, value]) => `${column.heading}: ${value}`)
    .join('\n');
}
