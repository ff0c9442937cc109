import { createHash } from 'node:crypto';
import { compareCodeUnits, type Entity } from '@assay/data';
import type { ItemDef } from '@assay/contracts';
import { ChatTemplate, renderChatTemplate } from './chat-template';
import { Placeholder, PromptTemplates, renderProfile, substitute, validateTemplates } from './templates';

/**
 * Prompts of one entity, split so the shared part is stored once: the full text the model sees
 * is `prefix + suffix` (chat template applied). The prefix holds the system prompt and the
 * profile, so vLLM's prefix cache computes it once per entity (seed §10).
 */
export interface EntityPrompts {
  entityId: string;
  prefix: string;
  prompts: Array<{ promptId: string; group: string; item: string; suffix: string }>;
}

export class PrefixCompatibilityError extends Error {
  override name = 'PrefixCompatibilityError';
}

/** Stable across runs and machines; JSON keeps it unambiguous whatever characters ids contain. */
export function promptId(entityId: string, group: string, item: string): string {
  return createHash('sha256').update(JSON.stringify([entityId, group, item])).digest('hex').slice(0, 16);
}

// Two made-up items whose every value differs from the first character on: rendering both shows
// where item text starts, even for an entity with a single real item.
const PROBES: Array<Omit<Record<Placeholder, string>, 'profile'>> = [
  { group: 'A-probe-group', item: 'A-probe-item', question: 'A-probe question?', min: '0', max: '1' },
  { group: 'Z-probe-group', item: 'Z-probe-item', question: 'Z-probe question?', min: '2', max: '3' },
];
/** Appended to the profile to find where it ends in the rendered text; cannot occur in real text. */
const END_MARK = '\u0000\u0001';

function commonPrefixLength(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  let i = 0;
  while (i < n && a.charCodeAt(i) === b.charCodeAt(i)) i++;
  return i;
}

function snippet(text: string, at: number): string {
  const start = Math.max(0, at - 40);
  return `${start > 0 ? '…' : ''}${JSON.stringify(text.slice(start, at + 40))}${at + 40 < text.length ? '…' : ''}`;
}

/**
 * Returns the length of the common prefix of `texts` and throws PrefixCompatibilityError if
 * they diverge before `profileEnd` (the character where the rendered profile ends): the item
 * would then sit inside the shared context and no prefix could be reused.
 */
export function checkPrefixCompatibility(entityId: string, texts: string[], profileEnd: number): number {
  if (texts.length === 0) throw new Error(`checkPrefixCompatibility: no prompt texts for entity ${JSON.stringify(entityId)}`);
  let common = texts[0].length;
  let other = 0;
  for (let i = 1; i < texts.length; i++) {
    const l = commonPrefixLength(texts[0], texts[i]);
    if (l < common) {
      common = l;
      other = i;
    }
  }
  if (common < profileEnd) {
    throw new PrefixCompatibilityError(
      `entity ${JSON.stringify(entityId)}: its prompts diverge at character ${common}, before the end of the rendered profile ` +
        `(character ${profileEnd}), so vLLM cannot reuse the entity prefix: ${snippet(texts[0], common)} vs ${snippet(texts[other], common)}. ` +
        'Fix the prompt templates: put {profile} before any item placeholder ({group} {item} {question} {min} {max}).',
    );
  }
  return common;
}

export function buildEntityPrompts(entity: Entity, items: ItemDef[], templates: PromptTemplates, chat: ChatTemplate): EntityPrompts {
  validateTemplates(templates);
  if (items.length === 0) throw new Error(`entity ${JSON.stringify(entity.entityId)}: no items to build prompts for`);
  const seen = new Set<string>();
  for (const it of items) {
    const key = JSON.stringify([it.group, it.item]);
    if (seen.has(key)) throw new Error(`entity ${JSON.stringify(entity.entityId)}: item group ${JSON.stringify(it.group)} item ${JSON.stringify(it.item)} given twice`);
    seen.add(key);
  }
  const profile = renderProfile(entity);
  const render = (values: Record<Placeholder, string>): string =>
    renderChatTemplate(
      chat,
      [
        { role: 'system', content: substitute(templates.system, values, 'system') },
        { role: 'user', content: substitute(templates.user, values, 'user') },
      ],
      true,
    );
  const valuesOf = (it: ItemDef): Record<Placeholder, string> => ({
    profile,
    group: it.group,
    item: it.item,
    question: it.question,
    min: String(it.min),
    max: String(it.max),
  });
  const texts = items.map((it) => render(valuesOf(it)));
  const probes = PROBES.map((p) => render({ profile, ...p }));
  const profileEnd = commonPrefixLength(texts[0], render({ ...valuesOf(items[0]), profile: profile + END_MARK }));
  // The probes diverge exactly where the first item value starts, so the common prefix of real
  // prompts and probes ends at a clean boundary: after the profile, never inside item text.
  const prefixLength = checkPrefixCompatibility(entity.entityId, [...texts, ...probes], profileEnd);
  const prefix = texts[0].slice(0, prefixLength);
  return {
    entityId: entity.entityId,
    prefix,
    prompts: items.map((it, i) => ({
      promptId: promptId(entity.entityId, it.group, it.item),
      group: it.group,
      item: it.item,
      suffix: texts[i].slice(prefixLength),
    })),
  };
}

/**
 * One batch per test entity, entities sorted by id (code-unit order) and items by (group, item),
 * so the order is the same on every machine and every prompt of an entity follows its prefix.
 */
export function planEntityBatches(
  entities: Entity[],
  items: ItemDef[],
  testIds: string[],
  templates: PromptTemplates,
  chat: ChatTemplate,
  opts: { maxEntities?: number | null; groups?: string[] | null } = {},
): EntityPrompts[] {
  const byId = new Map(entities.map((e) => [e.entityId, e]));
  const unknown = testIds.filter((id) => !byId.has(id));
  if (unknown.length > 0) {
    throw new Error(`${unknown.length} test id(s) are not among the entities: ${unknown.slice(0, 5).map((id) => JSON.stringify(id)).join(', ')}`);
  }
  let selectedItems = items;
  if (opts.groups != null) {
    const known = new Set(items.map((it) => it.group));
    const missing = opts.groups.filter((g) => !known.has(g));
    if (missing.length > 0) throw new Error(`unknown group(s) ${missing.map((g) => JSON.stringify(g)).join(', ')}; known: ${[...known].map((g) => JSON.stringify(g)).join(', ')}`);
    const wanted = new Set(opts.groups);
    selectedItems = items.filter((it) => wanted.has(it.group));
  }
  if (selectedItems.length === 0) throw new Error('no items to plan (items list empty after the groups filter)');
  selectedItems = [...selectedItems].sort((a, b) => compareCodeUnits(a.group, b.group) || compareCodeUnits(a.item, b.item));
  let ids = [...new Set(testIds)].sort(compareCodeUnits);
  if (opts.maxEntities != null) {
    if (!Number.isInteger(opts.maxEntities) || opts.maxEntities < 1) throw new Error(`maxEntities must be a positive integer, got ${opts.maxEntities}`);
    ids = ids.slice(0, opts.maxEntities);
  }
  if (ids.length === 0) throw new Error('no test entities to plan');
  return ids.map((id) => buildEntityPrompts(byId.get(id) as Entity, selectedItems, templates, chat));
}
