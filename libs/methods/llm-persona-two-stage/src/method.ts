import { defineMethod, type PromptPlanInput } from '@assay/methods/core';
import { buildProfilePrompts, renderChatTemplate, renderProfile, substitute, type ChatTemplate, type EntityPrompts } from '@assay/prompting';
import type { ItemDef } from '@assay/contracts';
import { PersonaSection, type PersonaSettings } from './section';

/** The run directory file (under each entity folder) with the summary call's INPUT/OUTPUT. */
export const SUMMARY_FILE = 'persona_summary.txt';

export class MissingSummaryError extends Error {
  override name = 'MissingSummaryError';
}

/** Stage 1's prompt for one entity: its full profile (the view applied) in the summary templates. */
export function summaryPrompt(settings: PersonaSettings, chat: ChatTemplate, profile: string): string {
  const values = { profile, group: '', item: '', question: '', min: '', max: '' };
  return renderChatTemplate(
    chat,
    [
      { role: 'system', content: substitute(settings.template.system, values, 'llm_persona_two_stage.template.system') },
      { role: 'user', content: substitute(settings.template.user, values, 'llm_persona_two_stage.template.user') },
    ],
    true,
  );
}

/**
 * Stage 2's prompts for one entity: the usual prompt.system / prompt.user with the summary in the
 * place of {profile}, so the summary (and what precedes it) is the entity's shared prefix. An
 * empty or missing summary is an error naming the entity: a prompt without the persona would
 * silently measure something else.
 */
export function personaPrompts(entityId: string, summary: string | undefined, items: ItemDef[], input: Pick<PromptPlanInput<PersonaSettings>, 'config' | 'chat'>): EntityPrompts {
  if (summary === undefined) throw new MissingSummaryError(`llm_persona_two_stage: entity ${JSON.stringify(entityId)} has no persona summary yet (stage 'summary' must answer first)`);
  if (summary.trim().length === 0) throw new MissingSummaryError(`llm_persona_two_stage: the persona summary of entity ${JSON.stringify(entityId)} is empty`);
  return buildProfilePrompts(entityId, summary.trim(), items, input.config.prompt, input.chat);
}

/**
 * Two-stage persona: stage 1 asks the model once per entity for a short persona summary from its
 * full profile; stage 2 asks each item from that summary. Each entity's predictions start as soon
 * as its own summary is answered.
 */
export const llmPersonaTwoStage = defineMethod<PersonaSettings>({
  name: 'llm_persona_two_stage',
  description: 'A persona summary written by the model from the full profile (once per entity), then each item asked from the summary.',
  label: () => 'two-stage persona',
  section: PersonaSection,
  stages: [
    { name: 'summary', kind: 'prompt', description: 'one call per entity: a short persona summary from the full profile (llm_persona_two_stage.template)', reads: [] },
    { name: 'predict', kind: 'prompt', description: 'one prompt per (entity, item) from prompt.system / prompt.user, {profile} being the summary', reads: ['summary'] },
  ],
  entityInput: {
    stage: 'summary',
    file: SUMMARY_FILE,
    buildPrompts: ({ settings, chat, profileView, entities }) => entities.map((e) => ({ entityId: e.entityId, prompt: summaryPrompt(settings, chat, renderProfile(e, profileView)) })),
    sampling: (settings) => ({ temperature: settings.sampling.temperature, seed: settings.sampling.seed, stop: settings.sampling.stop, maxTokens: settings.max_tokens }),
  },
  buildPrompts(input) {
    const inputs = input.entityInputs;
    if (inputs === undefined) throw new MissingSummaryError('llm_persona_two_stage: prediction prompts need the persona summaries (stage \'summary\'), none were given');
    return input.entities.map((e) => personaPrompts(e.entityId, inputs.get(e.entityId), input.items, input));
  },
});
