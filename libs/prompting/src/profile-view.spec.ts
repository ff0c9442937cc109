import { entityOf, type Entity, type ProfileView } from '@assay/data';
import type { ItemDef } from '@assay/contracts';
import { DEFAULT_PROMPT_TEMPLATES, loadChatTemplate, planEntityBatches, renderProfile } from './index';

const ENTITIES: Entity[] = [
  entityOf('e1', [['age', '34'], ['f_017', '4'], ['region', 'north']]),
  entityOf('e2', [['age', '51'], ['f_017', '2'], ['region', 'south']]),
];
const ITEMS: ItemDef[] = [
  { group: 'g1', item: 'q1', question: 'Do you agree?', min: 1, max: 5, kind: 'ordinal' },
  { group: 'g1', item: 'q2', question: 'Did you?', min: 0, max: 1, kind: 'binary' },
];
const CHATML = loadChatTemplate('builtin:chatml');
/** Trust in science under its codebook label, age kept by name, region left out. */
const VIEW: ProfileView = {
  columns: [
    { name: 'age', index: 0, heading: 'age' },
    { name: 'f_017', index: 1, heading: 'Trust in science (1-5)' },
  ],
};

describe('renderProfile with a profile view', () => {
  it('given no view, when rendered, then every column appears under its own name in file order (the format prompts always had)', () => {
    expect(renderProfile(ENTITIES[0])).toBe('age: 34\nf_017: 4\nregion: north');
    expect(renderProfile(ENTITIES[0], null)).toBe('age: 34\nf_017: 4\nregion: north');
  });

  it('given a view, when rendered, then only its columns appear, under their headings', () => {
    expect(renderProfile(ENTITIES[0], VIEW)).toBe('age: 34\nTrust in science (1-5): 4');
  });
});

describe('planEntityBatches with a profile view', () => {
  it('given no view or a null view, when planned, then the prompts are identical to a plan without the option', () => {
    const plain = planEntityBatches(ENTITIES, ITEMS, ['e1', 'e2'], DEFAULT_PROMPT_TEMPLATES, CHATML);
    expect(planEntityBatches(ENTITIES, ITEMS, ['e1', 'e2'], DEFAULT_PROMPT_TEMPLATES, CHATML, { profileView: null })).toEqual(plain);
    expect(plain[0].prefix).toContain('Profile of the respondent:\nage: 34\nf_017: 4\nregion: north\n');
  });

  it('given a view, when planned, then every prompt of an entity shows the labelled profile inside the shared prefix, the item after it', () => {
    const [e1] = planEntityBatches(ENTITIES, ITEMS, ['e1'], DEFAULT_PROMPT_TEMPLATES, CHATML, { profileView: VIEW });
    expect(e1.prefix).toContain('Profile of the respondent:\nage: 34\nTrust in science (1-5): 4\n');
    expect(e1.prefix).not.toContain('region');
    expect(e1.prefix).not.toContain('f_017');
    expect(e1.prompts.map((p) => p.suffix).join('\n')).not.toContain('Trust in science');
  });
});
