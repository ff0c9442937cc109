import { createHash } from 'node:crypto';
import { entityOf, type Entity } from '@assay/data';
import type { ItemDef } from '@assay/contracts';
import {
  buildEntityPrompts,
  ChatTemplate,
  detachedCopy,
  DEFAULT_PROMPT_TEMPLATES,
  loadChatTemplate,
  planEntityBatches,
  PrefixCompatibilityError,
  PromptComposer,
  promptId,
  PromptTemplates,
  renderChatTemplate,
  renderProfile,
  substitute,
} from './index';

const ENTITY: Entity = entityOf('p/1 ü', [['age', '34'], ['region', 'north, "coast"'], ['note', '{question}']]);
const ITEMS: ItemDef[] = [
  { group: 'g1', item: 'q1', question: 'Do you agree?', min: 1, max: 5, kind: 'ordinal' },
  { group: 'g1', item: 'q10', question: 'Did you {item}?', min: 0, max: 1, kind: 'binary' },
  { group: 'g2', item: 'q1', question: 'How much?', min: 0, max: 100, kind: 'continuous' },
];
const CHATML = loadChatTemplate('builtin:chatml');
const LLAMA3 = loadChatTemplate('builtin:llama3');

function fullText(entity: Entity, item: ItemDef, templates: PromptTemplates, chat: ChatTemplate): string {
  // Written independently of the library: plain string replacement, one placeholder at a time.
  const user = templates.user
    .split('{profile}').join(renderProfile(entity).split('{').join('\u0001'))
    .split('{group}').join(item.group.split('{').join('\u0001'))
    .split('{item}').join(item.item.split('{').join('\u0001'))
    .split('{question}').join(item.question.split('{').join('\u0001'))
    .split('{min}').join(String(item.min))
    .split('{max}').join(String(item.max))
    .split('\u0001').join('{');
  return renderChatTemplate(chat, [{ role: 'system', content: templates.system }, { role: 'user', content: user }], true);
}

describe('renderProfile', () => {
  it('given an entity, when rendered, then it is "feature: value" lines in file order', () => {
    expect(renderProfile(ENTITY)).toBe('age: 34\nregion: north, "coast"\nnote: {question}');
  });
});

describe('buildEntityPrompts', () => {
  it.each([['chatml', CHATML], ['llama3', LLAMA3]])('given the default templates and %s, when built, then prefix + suffix is exactly the rendered chat text', (_n, chat) => {
    const ep = buildEntityPrompts(ENTITY, ITEMS, DEFAULT_PROMPT_TEMPLATES, chat);
    expect(ep.entityId).toBe(ENTITY.entityId);
    expect(ep.prompts.map((p) => [p.group, p.item])).toEqual(ITEMS.map((i) => [i.group, i.item]));
    ep.prompts.forEach((p, i) => expect(ep.prefix + p.suffix).toBe(fullText(ENTITY, ITEMS[i], DEFAULT_PROMPT_TEMPLATES, chat)));
  });

  it('given the default templates, when built, then the prefix holds system prompt and whole profile and stops where the item starts', () => {
    const ep = buildEntityPrompts(ENTITY, ITEMS, DEFAULT_PROMPT_TEMPLATES, CHATML);
    const profile = renderProfile(ENTITY);
    expect(ep.prefix.startsWith('<|im_start|>system\n' + DEFAULT_PROMPT_TEMPLATES.system)).toBe(true);
    expect(ep.prefix.indexOf(profile) + profile.length).toBeLessThanOrEqual(ep.prefix.length);
    expect(ep.prefix.endsWith(`${profile}\n\nIn study '`)).toBe(true);
    expect(ep.prompts[0].suffix).toBe("g1', question 'q1': Do you agree?\nAnswer with a single number between 1 and 5.<|im_end|>\n<|im_start|>assistant\n");
    // Values are inserted once: braces inside the question and the profile stay literal.
    expect(ep.prompts[1].suffix).toContain("question 'q10': Did you {item}?");
    expect(ep.prefix).toContain('note: {question}');
  });

  it('given items sharing a group and an item-name prefix, when built, then the prefix does not stop inside the item text', () => {
    const items = ITEMS.filter((i) => i.group === 'g1');
    const ep = buildEntityPrompts(ENTITY, items, DEFAULT_PROMPT_TEMPLATES, CHATML);
    expect(ep.prefix.endsWith("In study '")).toBe(true);
    expect(ep.prompts.map((p) => p.suffix.slice(0, 15))).toEqual(["g1', question '", "g1', question '"]);
  });

  it('given a single item, when built, then the prefix still ends at the item boundary, not at the end of the text', () => {
    const ep = buildEntityPrompts(ENTITY, [ITEMS[0]], DEFAULT_PROMPT_TEMPLATES, LLAMA3);
    expect(ep.prefix.endsWith("In study '")).toBe(true);
    expect(ep.prefix + ep.prompts[0].suffix).toBe(fullText(ENTITY, ITEMS[0], DEFAULT_PROMPT_TEMPLATES, LLAMA3));
  });

  it('given a template with {question} before {profile}, when built, then PrefixCompatibilityError names entity, position, both sides and the fix', () => {
    const bad: PromptTemplates = { system: 'Simulate.', user: 'Question: {question}\nProfile:\n{profile}\nAnswer between {min} and {max}.' };
    const build = () => buildEntityPrompts(ENTITY, ITEMS, bad, CHATML);
    expect(build).toThrow(PrefixCompatibilityError);
    const text = fullText(ENTITY, ITEMS[0], bad, CHATML);
    const diverge = text.indexOf('Question: ') + 'Question: '.length;
    const profileEnd = text.indexOf(renderProfile(ENTITY)) + renderProfile(ENTITY).length;
    expect(build).toThrow(`entity "p/1 ü": its prompts diverge at character ${diverge}, before the end of the rendered profile (character ${profileEnd})`);
    expect(build).toThrow('Question: Do you agree?');
    expect(build).toThrow('vs …"e.<|im_end|>\\n<|im_start|>user\\nQuestion: How much?');
    expect(build).toThrow('put {profile} before any item placeholder');
  });

  it('given a template with {item} before {profile} and a single item, when built, then it is still detected', () => {
    const bad: PromptTemplates = { system: 'S', user: '{item}: {profile}' };
    expect(() => buildEntityPrompts(ENTITY, [ITEMS[0]], bad, CHATML)).toThrow(PrefixCompatibilityError);
  });

  it('given template mistakes, when built, then the error names the placeholder', () => {
    expect(() => buildEntityPrompts(ENTITY, ITEMS, { system: 'S', user: '{profile} {questoin}' }, CHATML)).toThrow('user template: unknown placeholder(s) {questoin}');
    expect(() => buildEntityPrompts(ENTITY, ITEMS, { system: 'S', user: '{question}' }, CHATML)).toThrow('must contain {profile} exactly once');
    expect(() => substitute('{nope}', { profile: '', group: '', item: '', question: '', min: '', max: '' }, 'user')).toThrow('user template: unknown placeholder {nope}');
  });
});

describe('PromptComposer', () => {
  const entities: Entity[] = [ENTITY, entityOf('e2', [['age', '71'], ['region', 'south']]), entityOf('e3', [['x', '']])];
  const custom = (template: string): ChatTemplate => ({ source: 'test', template, bosToken: '<s>', eosToken: '</s>' });

  it.each([['chatml', CHATML], ['llama3', LLAMA3]])('given the default templates and %s, when composed, then every prompt is exactly the rendered chat text and the prefix is the exact path\'s', (_n, chat) => {
    const composer = new PromptComposer(ITEMS, DEFAULT_PROMPT_TEMPLATES, chat);
    expect(composer.composable).toBe(true);
    for (const entity of entities) {
      const ep = composer.build(entity);
      expect(ep).toEqual(buildEntityPrompts(entity, ITEMS, DEFAULT_PROMPT_TEMPLATES, chat));
      ep.prompts.forEach((p, i) => expect(ep.prefix + p.suffix).toBe(fullText(entity, ITEMS[i], DEFAULT_PROMPT_TEMPLATES, chat)));
    }
  });

  it('given a user template with the item part before the profile, when composed, then it is not composable and building fails with the exact path\'s error', () => {
    const bad: PromptTemplates = { system: 'Simulate.', user: 'Question: {question}\nProfile:\n{profile}\nAnswer between {min} and {max}.' };
    const composer = new PromptComposer(ITEMS, bad, CHATML);
    expect(composer.composable).toBe(false);
    expect(() => composer.build(ENTITY)).toThrow(PrefixCompatibilityError);
    expect(() => composer.build(ENTITY)).toThrow(`entity "p/1 ü": its prompts diverge at character`);
    expect(() => planEntityBatches([ENTITY], ITEMS, [ENTITY.entityId], bad, CHATML)).toThrow('put {profile} before any item placeholder');
  });

  it('given a chat template whose text before the profile depends on the item (the user message length), when composed, then it fails as prefix-incompatible', () => {
    const leaky = custom("{{ messages[1]['content'] | length }}|{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}");
    const composer = new PromptComposer(ITEMS, DEFAULT_PROMPT_TEMPLATES, leaky);
    expect(composer.composable).toBe(false);
    expect(() => composer.build(ENTITY)).toThrow(PrefixCompatibilityError);
  });

  it('given a chat template that hoists the last message\'s item text before the system prompt, when composed, then it fails as prefix-incompatible', () => {
    const hoisting = custom("[{{ messages[-1]['content'][-12:] }}]{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}");
    expect(() => planEntityBatches([ENTITY], ITEMS, [ENTITY.entityId], DEFAULT_PROMPT_TEMPLATES, hoisting)).toThrow(PrefixCompatibilityError);
  });

  it('given a chat template that transforms the content (upper-cases it), when composed, then it is not composable and every entity is rendered in full, exactly', () => {
    const shouting = custom("{% for m in messages %}{{ m['role'] }}: {{ m['content'] | upper }}\n{% endfor %}");
    const composer = new PromptComposer(ITEMS, DEFAULT_PROMPT_TEMPLATES, shouting);
    expect(composer.composable).toBe(false);
    for (const entity of entities) {
      const ep = composer.build(entity);
      ep.prompts.forEach((p, i) => expect(ep.prefix + p.suffix).toBe(fullText(entity, ITEMS[i], DEFAULT_PROMPT_TEMPLATES, shouting)));
    }
  });

  it('given a chat template that branches on words of the profile, when composed, then the entities it affects are rendered in full and every text stays exact', () => {
    const branching = custom("{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}{% if 'age: 3' in m['content'] %} (thirties){% endif %}\n{% endfor %}");
    const composer = new PromptComposer(ITEMS, DEFAULT_PROMPT_TEMPLATES, branching);
    expect(composer.composable).toBe(true);
    for (const entity of entities) {
      const ep = composer.build(entity);
      ep.prompts.forEach((p, i) => expect(ep.prefix + p.suffix).toBe(fullText(entity, ITEMS[i], DEFAULT_PROMPT_TEMPLATES, branching)));
    }
    expect(composer.build(ENTITY).prompts[0].suffix).toContain('(thirties)');
  });

  it('given an entity whose profile the template changes (llama3 trims a profile that opens the message), when composed, then that entity is rendered in full and stays exact', () => {
    const atStart: PromptTemplates = { system: 'S', user: "{profile}\n\nIn study '{group}', question '{item}': {question} ({min}-{max})" };
    const padded: Entity = entityOf('padded', [['  lead', 'x']]);
    const composer = new PromptComposer(ITEMS, atStart, LLAMA3);
    expect(composer.composable).toBe(true);
    for (const entity of [padded, ...entities]) {
      const ep = composer.build(entity);
      ep.prompts.forEach((p, i) => expect(ep.prefix + p.suffix).toBe(fullText(entity, ITEMS[i], atStart, LLAMA3)));
    }
    expect(composer.build(padded).prefix.startsWith('<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nS<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nlead: x')).toBe(true);
  });

  it('given duplicate or no items, when composed, then the error says so', () => {
    expect(() => new PromptComposer([ITEMS[0], ITEMS[0]], DEFAULT_PROMPT_TEMPLATES, CHATML)).toThrow('prompt plan: item group "g1" item "q1" given twice');
    expect(() => new PromptComposer([], DEFAULT_PROMPT_TEMPLATES, CHATML)).toThrow('prompt plan: no items to build prompts for');
  });
});

describe('detachedCopy', () => {
  it('given any string, lone surrogates and non-ASCII included, when copied, then the copy is equal', () => {
    for (const text of ['', 'plain', 'ü 日本 \u{1F600}', 'lone \uD800 high', '\uDC00 lone low']) expect(detachedCopy(text)).toBe(text);
  });
});

describe('promptId', () => {
  it('given ids, when hashed, then it is the first 16 hex of sha256 of the JSON triple', () => {
    const expected = createHash('sha256').update(JSON.stringify(['a/b', 'g,1', 'q"1'])).digest('hex').slice(0, 16);
    expect(promptId('a/b', 'g,1', 'q"1')).toBe(expected);
    expect(promptId('a', 'bc', 'd')).not.toBe(promptId('ab', 'c', 'd'));
  });
});

describe('planEntityBatches', () => {
  const entities: Entity[] = ['b', 'a', 'é', 'B', 'train1'].map((id) => entityOf(id, [['x', id]]));
  const items: ItemDef[] = [ITEMS[2], ITEMS[1], ITEMS[0]];

  it('given test ids, when planned, then only test entities, sorted by code unit, items sorted by (group, item)', () => {
    const plan = planEntityBatches(entities, items, ['é', 'b', 'B', 'a'], DEFAULT_PROMPT_TEMPLATES, CHATML);
    expect(plan.map((p) => p.entityId)).toEqual(['B', 'a', 'b', 'é']);
    expect(plan[0].prompts.map((p) => [p.group, p.item])).toEqual([['g1', 'q1'], ['g1', 'q10'], ['g2', 'q1']]);
    expect(plan[0].prompts[0].promptId).toBe(promptId('B', 'g1', 'q1'));
  });

  it('given groups and maxEntities, when planned, then they filter after sorting', () => {
    const plan = planEntityBatches(entities, items, ['é', 'b', 'B', 'a'], DEFAULT_PROMPT_TEMPLATES, CHATML, { maxEntities: 2, groups: ['g2'] });
    expect(plan.map((p) => p.entityId)).toEqual(['B', 'a']);
    expect(plan[1].prompts.map((p) => p.group)).toEqual(['g2']);
  });

  it('given unknown test ids, groups or a bad limit, when planned, then each is refused by name', () => {
    expect(() => planEntityBatches(entities, items, ['ghost'], DEFAULT_PROMPT_TEMPLATES, CHATML)).toThrow('1 test id(s) are not among the entities: "ghost"');
    expect(() => planEntityBatches(entities, items, ['a'], DEFAULT_PROMPT_TEMPLATES, CHATML, { groups: ['g9'] })).toThrow('unknown group(s) "g9"');
    expect(() => planEntityBatches(entities, items, ['a'], DEFAULT_PROMPT_TEMPLATES, CHATML, { maxEntities: 0 })).toThrow('maxEntities must be a positive integer');
  });
});
