import { itemKey } from '@assay/contracts';
import { observationPositionsByEntity, type Dataset, type Entity, type Observation } from '@assay/data';
import { defineMethod } from '@assay/methods/core';
import { PromptComposer } from '@assay/prompting';
import { buildFewShotPrompts, type WorkedExample } from './layout';
import { FewShotSection, selectExamples, type FewShotSettings } from './select';

interface KnownExamples {
  byId: Map<string, Entity>;
  /** An entity's answers by itemKey (empty without any), made when first shown as an example. */
  answersOf: (entityId: string) => Map<string, number>;
}

const examplesByDataset = new WeakMap<Dataset, KnownExamples>();

/**
 * Entities by id and their answers, set up once per dataset: a plan made page by page builds
 * prompts once per page. Answers are made only for the entities shown as examples (train ones),
 * not for every entity of the dataset.
 */
function examplesOf(dataset: Dataset): KnownExamples {
  let known = examplesByDataset.get(dataset);
  if (known === undefined) {
    const byId = new Map(dataset.entities.map((e) => [e.entityId, e]));
    const positions = observationPositionsByEntity(dataset.observations);
    const answers = new Map<string, Map<string, number>>();
    const answersOf = (entityId: string): Map<string, number> => {
      let own = answers.get(entityId);
      if (own === undefined) {
        own = new Map();
        for (const at of positions.get(entityId) ?? []) {
          const o = dataset.observations.at(at) as Observation;
          own.set(itemKey(o.group, o.item), o.value);
        }
        answers.set(entityId, own);
      }
      return own;
    };
    examplesByDataset.set(dataset, (known = { byId, answersOf }));
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
    const { byId, answersOf } = examplesOf(dataset);
    const example = (id: string): WorkedExample => {
      const entity = byId.get(id);
      if (entity === undefined) throw new Error(`llm_few_shot: train entity ${JSON.stringify(id)} of the split has no profile`);
      return { entity, answers: answersOf(id) };
    };
    const composer = new PromptComposer(items, config.prompt, chat, profileView);
    return entities.map((entity) => {
      const ids = chosen.get(entity.entityId) ?? [];
      return { ...buildFewShotPrompts(composer, ids.map(example), entity, items, profileView), examples: ids };
    });
  },
});
