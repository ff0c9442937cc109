import { defineMethod } from '@assay/methods/core';
import { PromptComposer } from '@assay/prompting';

/**
 * Zero-shot: each item asked of the model with the entity's profile (its view) in the templates'
 * {profile}; every prompt of an entity shares the prefix up to the item.
 */
export const llmZeroShot = defineMethod<null>({
  name: 'llm_zero_shot',
  description: 'Each item asked of the model with the respondent profile, no examples.',
  label: () => 'zero-shot',
  section: null,
  stages: [{ name: 'predict', kind: 'prompt', description: 'one prompt per (entity, item) from prompt.system / prompt.user', reads: [] }],
  buildPrompts({ config, chat, profileView, entities, items }) {
    const composer = new PromptComposer(items, config.prompt, chat, profileView);
    return entities.map((e) => composer.build(e));
  },
});
