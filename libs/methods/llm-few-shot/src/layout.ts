import { compareCodeUnits, itemKey, type ItemDef } from '@assay/contracts';
import type { Entity, ProfileView } from '@assay/data';
import { renderProfile, type EntityPrompts, type PromptComposer } from '@assay/prompting';

/**
 * The few-shot prompt layout. Everything that depends on the entity and not on the item, the
 * examples included, goes where {profile} is in the templates, so it is part of the entity's
 * shared prefix; the item comes last, as in zero-shot. vLLM then computes an entity's examples
 * and profile once and every other prompt of the entity reuses them from its prefix cache.
 */

/** A train respondent shown as a worked example: its profile and its true answers. */
export interface WorkedExample {
  entity: Entity;
  /** True answers by itemKey(group, item); only the planned items are shown. */
  answers: Map<string, number>;
}

/**
 * "Example respondent i" blocks (profile view, then answers to the planned items in (group, item)
 * order, unanswered ones left out), then the entity to predict under its own heading. Numbers are
 * written as the data has them (String(value)).
 */
export function renderFewShotProfile(examples: WorkedExample[], entity: Entity, items: ItemDef[], view: ProfileView | null): string {
  const ordered = [...items].sort((a, b) => compareCodeUnits(a.group, b.group) || compareCodeUnits(a.item, b.item));
  const blocks = examples.map((example, i) => {
    const answers = ordered
      .filter((it) => example.answers.has(itemKey(it.group, it.item)))
      .map((it) => `In study '${it.group}', question '${it.item}': ${String(example.answers.get(itemKey(it.group, it.item)))}`);
    return [`Example respondent ${i + 1}:`, renderProfile(example.entity, view), 'Answers:', ...(answers.length > 0 ? answers : ['(none of these questions answered)'])].join('\n');
  });
  return [...blocks, ['The respondent to simulate:', renderProfile(entity, view)].join('\n')].join('\n\n');
}

/**
 * One entity's few-shot prompts through the same composer zero-shot uses, so the shared prefix is
 * found and checked the same way (a template that puts an item placeholder before {profile} fails
 * with the same PrefixCompatibilityError). The composer must have been made for `items`.
 */
export function buildFewShotPrompts(composer: PromptComposer, examples: WorkedExample[], entity: Entity, items: ItemDef[], view: ProfileView | null): EntityPrompts {
  const ids = examples.map((e) => e.entity.entityId);
  if (ids.includes(entity.entityId)) throw new Error(`few-shot prompt of entity ${JSON.stringify(entity.entityId)}: the entity is among its own examples`);
  return composer.buildWithProfile(entity.entityId, renderFewShotProfile(examples, entity, items, view));
}
