import type { ItemDef } from '@assay/contracts';
import { itemKey } from '@assay/contracts';
import { entityOf, type Entity, type ProfileView } from '@assay/data';
import { buildProfilePrompts, DEFAULT_PROMPT_TEMPLATES, loadChatTemplate, PrefixCompatibilityError, PromptComposer } from '@assay/prompting';
import { buildFewShotPrompts, renderFewShotProfile, type WorkedExample } from './index';

const ITEMS: ItemDef[] = [
  { group: 'g2', item: 'q1', question: 'How much?', min: 0, max: 100, kind: 'continuous' },
  { group: 'g1', item: 'q2', question: 'Did you?', min: 0, max: 1, kind: 'binary' },
  { group: 'g1', item: 'q1', question: 'Do you agree?', min: 1, max: 5, kind: 'ordinal' },
];
const TARGET: Entity = entityOf('x1', [['age', '34'], ['f_017', '4']]);
const VIEW: ProfileView = { columns: [{ name: 'age', index: 0, heading: 'Age' }, { name: 'f_017', index: 1, heading: 'Trust in science (1-5)' }] };
const example = (id: string, age: string, answers: Array<[string, string, number]>): WorkedExample => ({
  entity: entityOf(id, [['age', age], ['f_017', '2']]),
  answers: new Map(answers.map(([g, i, v]) => [itemKey(g, i), v])),
});
const EXAMPLES = [example('t1', '30', [['g1', 'q1', 4], ['g2', 'q1', 55.5], ['g1', 'q2', 1]]), example('t2', '61', [['g1', 'q1', 2]])];
const CHATML = loadChatTemplate('builtin:chatml');

describe('renderFewShotProfile', () => {
  it('given examples and a view, when rendered, then each example shows its viewed profile and its answers in (group, item) order, then the entity', () => {
    expect(renderFewShotProfile(EXAMPLES, TARGET, ITEMS, VIEW)).toBe(
      [
        'Example respondent 1:',
        'Age: 30',
        'Trust in science (1-5): 2',
        'Answers:',
        "In study 'g1', question 'q1': 4",
        "In study 'g1', question 'q2': 1",
        "In study 'g2', question 'q1': 55.5",
        '',
        'Example respondent 2:',
        'Age: 61',
        'Trust in science (1-5): 2',
        'Answers:',
        "In study 'g1', question 'q1': 2",
        '',
        'The respondent to simulate:',
        'Age: 34',
        'Trust in science (1-5): 4',
      ].join('\n'),
    );
  });

  it('given an example answer to an item that is not planned, when rendered, then it is not shown', () => {
    const text = renderFewShotProfile([example('t3', '40', [['g9', 'q9', 3]])], TARGET, ITEMS, null);
    expect(text).not.toContain('g9');
    expect(text).toContain('Answers:\n(none of these questions answered)');
  });
});

describe('buildFewShotPrompts (prefix layout)', () => {
  const composer = new PromptComposer(ITEMS, DEFAULT_PROMPT_TEMPLATES, CHATML);

  it('given examples, when built, then every prompt of the entity shares one prefix holding the examples and the profile, and only the item follows', () => {
    const built = buildFewShotPrompts(composer, EXAMPLES, TARGET, ITEMS, VIEW);
    expect(built.entityId).toBe('x1');
    expect(built.prompts).toHaveLength(3);
    expect(built.prefix).toContain('Example respondent 1:\nAge: 30');
    expect(built.prefix).toContain("In study 'g2', question 'q1': 55.5");
    expect(built.prefix).toContain('The respondent to simulate:\nAge: 34\nTrust in science (1-5): 4');
    for (const p of built.prompts) {
      expect(p.suffix).not.toContain('Example respondent');
      expect(p.suffix).not.toContain('Age:');
      const full = built.prefix + p.suffix;
      // The item is what comes last: the question text sits in the suffix.
      expect(p.suffix).toContain(ITEMS.find((it) => it.group === p.group && it.item === p.item)!.question);
      expect(full.indexOf('The respondent to simulate:')).toBeLessThan(full.lastIndexOf(`question '${p.item}'`));
    }
  });

  it('given the exact path (every prompt rendered in full, prefix found by comparison), when built, then the composer gave the same prefix and suffixes', () => {
    const profile = renderFewShotProfile(EXAMPLES, TARGET, ITEMS, VIEW);
    const exact = buildProfilePrompts('x1', profile, [...ITEMS].sort((a, b) => (a.group + a.item < b.group + b.item ? -1 : 1)), DEFAULT_PROMPT_TEMPLATES, CHATML);
    const composed = buildFewShotPrompts(new PromptComposer([...ITEMS].sort((a, b) => (a.group + a.item < b.group + b.item ? -1 : 1)), DEFAULT_PROMPT_TEMPLATES, CHATML), EXAMPLES, TARGET, ITEMS, VIEW);
    expect(composed).toEqual(exact);
  });

  it('given a template with an item placeholder before {profile}, when built, then the prefix check refuses it', () => {
    const bad = new PromptComposer(ITEMS, { system: 'Question {item} first.', user: '{profile}\n{question} ({min}-{max})' }, CHATML);
    expect(() => buildFewShotPrompts(bad, EXAMPLES, TARGET, ITEMS, VIEW)).toThrow(PrefixCompatibilityError);
  });

  it('given the entity among its own examples, when built, then it is refused', () => {
    const self = { entity: TARGET, answers: new Map<string, number>() };
    expect(() => buildFewShotPrompts(composer, [self], TARGET, ITEMS, VIEW)).toThrow('few-shot prompt of entity "x1": the entity is among its own examples');
  });
});
