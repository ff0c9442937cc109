import { itemKey } from '@assay/contracts';
import type { Dataset, Entity } from '@assay/data';
import { defineMethod } from '@assay/methods/core';
import { PromptComposer } from '@assay/prompting';
import { buildFewShotPrompts, type WorkedExample } from './layout';
import { FewShotSection, selectExamples, type FewShotSettings } from './select';

const examplesByDataset = new WeakMap<Dataset, { byId: Map<string, Entity>; answers: Map<string, Map<string, number>> }>();

/** Entities by id and their answers, read once per dataset: a plan made page by page builds prompts once per page. */
function examplesOf(dataset: Dataset): { byId: Map<string, Entity>; answers: Map<string, Map<string, number>> } {
  let known = examplesByDataset.get(dataset);
  if (known === undefined) {
    const byId = new Map(dataset.entities.map((e) => [e.entityId, e]));
    const answers = new Map<string, Map<string, number>>();
    for (const o of dataset.observations) {
      let own = answers.get(o.entityId);
      if (own === undefined) answers.set(o.entityId, (own = new Map()));
      own.set(itemKey(o.group, o.item), o.value);
    }
    examplesByDataset.set(dataset, (known = { byId, answers }));
  }
  return known;
}

/**
 * Few-shot: k train respondents (their profile view and their true answers to the planned items)
 * shown before the entity's own profile, all in the entity's shared prefix. The examples chosen
 * for each entity go with its prompts, so the plan records them and the leakage check sees them.
 */
export const llmFewShot = defineMethod<FewShotSettings>({
  name: 'llm_few_shot',
  description: 'Each item asked with k worked examples of train respondents (profile and true answers) before the respondent profile.',
  label: ({ k, selection, seed }) => `few-shot (k=${k}, ${selection === 'random' ? `random, seed ${seed}` : selection})`,
  section: FewShotSection,
  stages: [
    { name: 'predict', kind: 'prompt', description: 'one prompt per (entity, item): k train examples, then the profile, then the item', reads: [] },
  ],
  buildPrompts({ config, settings, dataset, split, profileView, chat, entities, items }) {
    const chosen = selectExamples({ testIds: entities.map((e) => e.entityId), trainIds: split.train, entities: dataset.entities, view: profileView, settings });
    const { byId, answers } = examplesOf(dataset);
    const example = (id: string): WorkedExample => {
      const entity = byId.get(id);
      if (entity === undefined) throw new Error(`llm_few_shot: train entity ${JSON.stringify(id)} of the split has no profile`);
      return { entity, answers: answers.get(id) ?? new Map() };
    };
    const composer = new PromptComposer(items, config.prompt, chat, profileView);
    return entities.map((entity) => {
      const ids = chosen.get(entity.entityId) ?? [];
      return { ...buildFewShotPrompts(composer, ids.map(example), entity, items, profileView), examples: ids };
    });
  },
});
