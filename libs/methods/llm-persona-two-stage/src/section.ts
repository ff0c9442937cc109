import { z } from 'zod';
import { placeholdersOf } from '@assay/prompting';

/** Where the settings sit in the config, for error messages. */
export const SECTION_KEY = 'llm_persona_two_stage';

const DEFAULT_SYSTEM = 'You write short, neutral persona summaries of survey respondents.';
const DEFAULT_USER =
  'Profile of the respondent:\n{profile}\n\nIn at most three sentences, describe this person as a persona: who they are and what they are likely to value. Do not invent facts that the profile does not support.';

/** A summary template may only place the profile: it is written once per entity, not per item. */
const SummaryText = (name: 'system' | 'user') =>
  z
    .string()
    .min(1)
    .superRefine((text, ctx) => {
      const other = placeholdersOf(text).filter((p) => p !== 'profile');
      if (other.length > 0) ctx.addIssue({ code: 'custom', message: `the summary's ${name} template may use only {profile}, found ${other.map((p) => `{${p}}`).join(' ')}` });
    });

/** The method's config section (`llm_persona_two_stage:`): stage 1's own template, sampling and length. */
export const PersonaSection = z.strictObject({
  template: z
    .strictObject({ system: SummaryText('system').default(DEFAULT_SYSTEM), user: SummaryText('user').default(DEFAULT_USER) })
    .default({ system: DEFAULT_SYSTEM, user: DEFAULT_USER })
    .refine((t) => `${t.system}\n${t.user}`.includes('{profile}'), { message: 'the summary templates must place {profile} (in system or user)' }),
  sampling: z
    .strictObject({
      temperature: z.number().min(0).max(2).default(0),
      seed: z.int().default(0),
      /** Stop strings of the summary call (the prediction's model.stop would cut a summary at its first line). */
      stop: z.array(z.string().min(1)).default([]),
    })
    .default({ temperature: 0, seed: 0, stop: [] }),
  max_tokens: z.int().min(1).default(160),
});
export type PersonaSettings = z.infer<typeof PersonaSection>;
