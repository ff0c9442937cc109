import { createHash } from 'node:crypto';
import type { Entity, ProfileView } from '@assay/data';
import { compareCodeUnits, itemKey, sampleKey } from '@assay/contracts';
import type { ItemDef } from '@assay/contracts';
import { ChatTemplate, renderChatTemplate } from './chat-template';
import { Placeholder, PromptTemplates, renderProfile, substitute, validateTemplates } from './templates';

/**
 * Prompts of one entity, split so the shared part is stored once: the full text the model sees
 * is `prefix + suffix` (chat template applied). The prefix holds the system prompt and the
 * profile, so vLLM's prefix cache computes it once per entity and every other prompt of the
 * entity only prefills its short suffix.
 */
export interface EntityPrompts {
  entityId: string;
  prefix: string;
  prompts: Array<{ promptId: string; group: string; item: string; suffix: string }>;
}

export class PrefixCompatibilityError extends Error {
  override name = 'PrefixCompatibilityError';
}

/** Stable across runs and machines: a hash of the cell's sampleKey. */
export function promptId(entityId: string, group: string, item: string): string {
  return createHash('sha256').update(sampleKey({ entityId, group, item })).digest('hex').slice(0, 16);
}

/** A prefix text's digest, to tell whether two entities' prefixes are identical without keeping them. */
export function prefixDigest(prefix: string): string {
  return createHash('sha256').update(prefix, 'utf8').digest('hex');
}

// Two made-up items whose every value differs from the first character on: rendering both shows
// where item text starts, even for an entity with a single real item.
const PROBES: Array<Omit<Record<Placeholder, string>, 'profile'>> = [
  { group: 'A-probe-group', item: 'A-probe-item', question: 'A-probe question?', min: '0', max: '1' },
  { group: 'Z-probe-group', item: 'Z-probe-item', question: 'Z-probe question?', min: '2', max: '3' },
];
/** Appended to the profile to find where it ends in the rendered text; cannot occur in real text. */
const END_MARK = '\u0000\u0001';

/** Characters two strings share from their start. */
export function commonPrefixLength(a: string, b: string): number {
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

/**
 * A fresh copy of `text`. A `.slice` of a long string keeps the whole parent alive in V8; the
 * suffixes are kept for the whole plan, so each would pin its full rendered prompt (~12 KB at
 * full size). UTF-16LE round trip: lossless for any JS string, lone surrogates included.
 */
export function detachedCopy(text: string): string {
  return Buffer.from(text, 'utf16le').toString('utf16le');
}

/** `where` names whose prompts these are, for the error message. */
function checkItems(where: string, items: ItemDef[]): void {
  if (items.length === 0) throw new Error(`${where}: no items to build prompts for`);
  const seen = new Set<string>();
  for (const it of items) {
    const key = itemKey(it.group, it.item);
    if (seen.has(key)) throw new Error(`${where}: item group ${JSON.stringify(it.group)} item ${JSON.stringify(it.item)} given twice`);
    seen.add(key);
  }
}

function itemValues(it: ItemDef): Omit<Record<Placeholder, string>, 'profile'> {
  return { group: it.group, item: it.item, question: it.question, min: String(it.min), max: String(it.max) };
}

function renderPrompt(templates: PromptTemplates, chat: ChatTemplate, values: Record<Placeholder, string>): string {
  return renderChatTemplate(
    chat,
    [
      { role: 'system', content: substitute(templates.system, values, 'system') },
      { role: 'user', content: substitute(templates.user, values, 'user') },
    ],
    true,
  );
}

/**
 * The exact path: every prompt of the entity rendered in full, and the shared prefix found by
 * comparing them all. Used when the template cannot be shown to treat the profile as opaque text
 * (see PromptComposer), and it gives the precise PrefixCompatibilityError when one is due.
 */
export function buildEntityPrompts(entity: Entity, items: ItemDef[], templates: PromptTemplates, chat: ChatTemplate, view: ProfileView | null = null): EntityPrompts {
  return buildProfilePrompts(entity.entityId, renderProfile(entity, view), items, templates, chat);
}

/**
 * The exact path for any text in the place of {profile}: a method whose shared context is more
 * than the entity's own profile (few-shot examples before it, a persona summary) gets the same
 * prefix discovery and the same PrefixCompatibilityError.
 */
export function buildProfilePrompts(entityId: string, profile: string, items: ItemDef[], templates: PromptTemplates, chat: ChatTemplate): EntityPrompts {
  validateTemplates(templates);
  checkItems(`entity ${JSON.stringify(entityId)}`, items);
  const texts = items.map((it) => renderPrompt(templates, chat, { profile, ...itemValues(it) }));
  const probes = PROBES.map((p) => renderPrompt(templates, chat, { profile, ...p }));
  const profileEnd = commonPrefixLength(texts[0], renderPrompt(templates, chat, { profile: profile + END_MARK, ...itemValues(items[0]) }));
  // The probes diverge exactly where the first item value starts, so the common prefix of real
  // prompts and probes ends at a clean boundary: after the profile, never inside item text.
  const prefixLength = checkPrefixCompatibility(entityId, [...texts, ...probes], profileEnd);
  return {
    entityId,
    prefix: detachedCopy(texts[0].slice(0, prefixLength)),
    prompts: items.map((it, i) => ({
      promptId: promptId(entityId, it.group, it.item),
      group: it.group,
      item: it.item,
      suffix: detachedCopy(texts[i].slice(prefixLength)),
    })),
  };
}

/**
 * Stand-ins for the profile, rendered instead of it once per item for the whole run. They differ
 * in length and in every character, and use control characters no real template or item holds.
 */
const SENTINELS = ['\u0002\u0003profile-sentinel-one\u0003\u0002', '\u0004\u0005\u0005SENTINEL #2 (longer, different)\u0005\u0004'] as const;

/** An item rendered around a stand-in profile: the text before it and the text after it. */
interface Around {
  before: string;
  after: string;
}

/**
 * Builds every entity's prompts from one chat-template render per item for the whole run plus
 * one per entity, instead of one per (entity, item): at full size 72 + 471 renders, not 33,912.
 *
 * Why the texts are the renders. The rendered text is F(messages), where only the profile depends on the
 * entity and only the item values depend on the item. Chat templates place message content into
 * their output; if F treats the profile as opaque text, then for every item i there are strings
 * A_i, B_i with F(profile p, item i) = A_i + p + B_i for every p. We check that, per run and per
 * entity, and compose the prompts only when every check passes:
 *  1. per run: each item (and two probe items) is rendered with two stand-in profiles that differ
 *     in length and content; each must appear exactly once, with the same text around it. A
 *     template that measures, transforms, repeats or branches on the content fails this.
 *  2. per run: A_i is the same for every item and probe. This is the prefix-compatibility check:
 *     a template whose item part comes before the profile, or whose text before the profile
 *     depends on the item in any way, fails here, and the entity is then built by the exact path,
 *     which throws PrefixCompatibilityError with the entity, the position and both texts.
 *  3. per entity: the first item is rendered with the real profile and must equal A + p + B_0
 *     character for character, so an entity whose profile the template treats differently
 *     (e.g. `trim` reaching a profile at the edge of a message) is caught.
 * The shared prefix is A + p + the common start of all B_i (probes included, so it stops where
 * the first item value starts, never inside item text), exactly what the exact path finds. A
 * check that fails sends the entity down the exact path: slower, never a different text.
 * What no check here sees: a template that branches on words of one entity's profile combined
 * with an item other than the first (`{% if 'age: 3' in content and 'q7' in content %}`). Chat
 * templates shipped with models branch on roles and flags, not on the words of the content.
 */
export class PromptComposer {
  private readonly parts: { before: string; prefixTail: string; suffixes: string[] } | null;

  constructor(
    private readonly items: ItemDef[],
    private readonly templates: PromptTemplates,
    private readonly chat: ChatTemplate,
    /** The config's `profile` view; null shows every column under its own name. */
    private readonly view: ProfileView | null = null,
  ) {
    validateTemplates(templates);
    checkItems('prompt plan', items);
    this.parts = this.composableParts();
  }

  /** Whether the per-run checks passed (false: every entity takes the exact path). */
  get composable(): boolean {
    return this.parts !== null;
  }

  private around(values: Omit<Record<Placeholder, string>, 'profile'>): Around | null {
    const seen = SENTINELS.map((sentinel) => {
      const text = renderPrompt(this.templates, this.chat, { profile: sentinel, ...values });
      const at = text.indexOf(sentinel);
      if (at < 0 || text.indexOf(sentinel, at + 1) >= 0) return null;
      return { before: text.slice(0, at), after: text.slice(at + sentinel.length) };
    });
    const [one, two] = seen;
    if (!one || !two || one.before !== two.before || one.after !== two.after) return null;
    return one;
  }

  private composableParts(): { before: string; prefixTail: string; suffixes: string[] } | null {
    const rendered = [...this.items.map(itemValues), ...PROBES].map((values) => this.around(values));
    if (rendered.some((r) => r === null)) return null;
    const parts = rendered as Around[];
    const before = parts[0].before;
    if (parts.some((p) => p.before !== before)) return null;
    let common = parts[0].after.length;
    for (const p of parts) common = Math.min(common, commonPrefixLength(parts[0].after, p.after));
    return {
      before: detachedCopy(before),
      prefixTail: detachedCopy(parts[0].after.slice(0, common)),
      suffixes: parts.slice(0, this.items.length).map((p) => detachedCopy(p.after.slice(common))),
    };
  }

  build(entity: Entity): EntityPrompts {
    return this.buildWithProfile(entity.entityId, renderProfile(entity, this.view));
  }

  /** The prompts of an entity whose {profile} text is given (e.g. few-shot examples and then the profile). */
  buildWithProfile(entityId: string, profile: string): EntityPrompts {
    const parts = this.parts;
    if (parts === null) return buildProfilePrompts(entityId, profile, this.items, this.templates, this.chat);
    const prefix = parts.before + profile + parts.prefixTail;
    const real = renderPrompt(this.templates, this.chat, { profile, ...itemValues(this.items[0]) });
    if (real.length !== prefix.length + parts.suffixes[0].length || !real.startsWith(prefix) || !real.endsWith(parts.suffixes[0])) {
      return buildProfilePrompts(entityId, profile, this.items, this.templates, this.chat);
    }
    return {
      entityId,
      prefix,
      prompts: this.items.map((it, i) => ({
        promptId: promptId(entityId, it.group, it.item),
        group: it.group,
        item: it.item,
        // Shared by every entity: one string per item for the whole plan.
        suffix: parts.suffixes[i],
      })),
    };
  }
}

/** The entities and items a run plans, in plan order. */
export interface PlanScope {
  entities: Entity[];
  items: ItemDef[];
}

/**
 * What a run predicts: the test entities sorted by id (code-unit order, sample.max_entities
 * applied) and the items sorted by (group, item) (sample.groups applied), so the order is the
 * same on every machine.
 */
export function planScope(
  entities: Entity[],
  items: ItemDef[],
  testIds: string[],
  opts: { maxEntities?: number | null; groups?: string[] | null } = {},
): PlanScope {
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
  return { entities: ids.map((id) => byId.get(id) as Entity), items: selectedItems };
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
  opts: { maxEntities?: number | null; groups?: string[] | null; profileView?: ProfileView | null } = {},
): EntityPrompts[] {
  const scope = planScope(entities, items, testIds, opts);
  const composer = new PromptComposer(scope.items, templates, chat, opts.profileView ?? null);
  return scope.entities.map((e) => composer.build(e));
}
