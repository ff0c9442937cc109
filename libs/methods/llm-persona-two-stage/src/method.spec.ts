import { promptsOf } from '@assay/methods/core';
import type { ItemDef } from '@assay/contracts';
import { entityOf, type Entity, type ProfileView } from '@assay/data';
import { DEFAULT_PROMPT_TEMPLATES, loadChatTemplate } from '@assay/prompting';
import { llmPersonaTwoStage, MissingSummaryError, PersonaSection, personaPrompts, summaryPrompt, type PersonaSettings } from './index';

const ITEMS: ItemDef[] = [
  { group: 'g1', item: 'q1', question: 'Do you agree?', min: 1, max: 5, kind: 'ordinal' },
  { group: 'g1', item: 'q2', question: 'Did you?', min: 0, max: 1, kind: 'binary' },
];
const ENTITY: Entity = entityOf('x1', [['age', '34'], ['f_017', '4']]);
const VIEW: ProfileView = { columns: [{ name: 'age', index: 0, heading: 'Age' }, { name: 'f_017', index: 1, heading: 'Trust in science (1-5)' }] };
const CHATML = loadChatTemplate('builtin:chatml');
const settings = (section: unknown = {}): PersonaSettings => PersonaSection.parse(section);
const config = { prompt: DEFAULT_PROMPT_TEMPLATES } as unknown as Parameters<typeof personaPrompts>[3]['config'];

describe('llm_persona_two_stage section', () => {
  it('given no section, when parsed, then the summary has its default template, greedy sampling with no stop strings, and 160 tokens', () => {
    const s = settings();
    expect(s.template.user).toContain('{profile}');
    expect(s.sampling).toEqual({ temperature: 0, seed: 0, stop: [] });
    expect(s.max_tokens).toBe(160);
  });

  it.each([
    [{ max_tokens: 0 }, 'max_tokens'],
    [{ sampling: { temprature: 0.2 } }, 'sampling'],
    [{ extra: 1 }, ''],
    [{ template: { user: 'Summarise {profile} for {question}' } }, 'template.user'],
    [{ template: { system: 'no profile', user: 'still none' } }, 'template'],
  ])('given %j, when parsed, then it is refused with the path of the bad key (%s)', (section, path) => {
    const parsed = PersonaSection.safeParse(section);
    expect(parsed.success).toBe(false);
    expect(parsed.error!.issues[0].path.join('.')).toBe(path);
  });
});

describe('summary prompt (stage 1)', () => {
  it('given an entity and a view, when the summary prompt is built, then it holds the full viewed profile in the summary templates, chat template applied', () => {
    const [prompt] = llmPersonaTwoStage.entityInput!.buildPrompts({ settings: settings({ template: { system: 'S', user: 'Profile:\n{profile}\nSummarise.' } }), chat: CHATML, profileView: VIEW, entities: [ENTITY] } as never);
    expect(prompt.entityId).toBe('x1');
    expect(prompt.prompt).toBe('<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nProfile:\nAge: 34\nTrust in science (1-5): 4\nSummarise.<|im_end|>\n<|im_start|>assistant\n');
  });

  it('given the section, when its sampling is asked for, then the summary call uses its own temperature, seed, stop strings and max_tokens', () => {
    expect(llmPersonaTwoStage.entityInput!.sampling(settings({ sampling: { temperature: 0.7, seed: 3, stop: ['###'] }, max_tokens: 99 }))).toEqual({ temperature: 0.7, seed: 3, stop: ['###'], maxTokens: 99 });
  });

  it('given a profile containing "{question}", when rendered, then it stays literal (single-pass substitution)', () => {
    expect(summaryPrompt(settings(), CHATML, 'likes {question} marks')).toContain('likes {question} marks');
  });
});

describe('prediction prompts (stage 2)', () => {
  it('given a summary, when the prompts are built, then every prompt shares one prefix that ends after the summary, and the raw profile is not in it', () => {
    const built = personaPrompts('x1', '  A cautious 34-year-old who trusts science.\n', ITEMS, { config, chat: CHATML });
    expect(built.prefix).toContain('A cautious 34-year-old who trusts science.');
    expect(built.prefix).not.toContain('Age: 34');
    expect(built.prompts.map((p) => p.item)).toEqual(['q1', 'q2']);
    for (const p of built.prompts) expect(p.suffix).not.toContain('cautious');
    expect(built.prompts[0].suffix).toContain('Do you agree?');
  });

  it.each([
    ['empty', '  \n', /the persona summary of entity "x1" is empty/],
    ['missing', undefined, /entity "x1" has no persona summary yet/],
  ])('given a %s summary, when the prompts are built, then it is an error naming the entity, never a prompt without the persona', (_, summary, message) => {
    expect(() => personaPrompts('x1', summary, ITEMS, { config, chat: CHATML })).toThrow(MissingSummaryError);
    expect(() => personaPrompts('x1', summary, ITEMS, { config, chat: CHATML })).toThrow(message);
  });

  it('given the method without its summaries, when it builds prompts, then it refuses', () => {
    expect(() => promptsOf(llmPersonaTwoStage)({ config, chat: CHATML, entities: [ENTITY], items: ITEMS } as never)).toThrow(/need the persona summaries/);
  });
});
