import type { ItemDef, ItemKind } from '@assay/contracts';
import type { PlannedBatch } from '../plan/prepare';
import { smokeBatch } from './smoke-batch';

// Like the sample data: every group opens with binary items, then ordinal, then continuous.
const KINDS: ItemKind[] = ['binary', 'binary', 'binary', 'ordinal', 'ordinal', 'continuous'];
const ITEMS: ItemDef[] = ['g1', 'g2', 'g3'].flatMap((group) =>
  KINDS.map((kind, i) => ({ group, item: `q${i + 1}`, question: `${group} q${i + 1}?`, min: 0, max: kind === 'binary' ? 1 : 5, kind })),
);

function batch(entityId: string, items: ItemDef[]): PlannedBatch {
  const prompts = items.map((it) => ({ promptId: `${entityId}:${it.group}:${it.item}`, group: it.group, item: it.item, suffix: `${it.item}?`, actual: 0 }));
  return { batchId: prompts[0].promptId, entityId, prefix: `profile of ${entityId}`, prompts };
}

const PLAN = [batch('e1', ITEMS), batch('e2', ITEMS)];
const pickedOf = (b: PlannedBatch) => b.prompts.map((p) => `${p.group}/${p.item}`);
const kindOf = (b: PlannedBatch) => b.prompts.map((p) => ITEMS.find((i) => i.group === p.group && i.item === p.item)?.kind);

describe('smokeBatch', () => {
  it('given groups that all open with binary items, when 4 examples are picked, then every item kind is asked and groups alternate', () => {
    const smoke = smokeBatch(PLAN, 4, ITEMS);
    expect(smoke).toMatchObject({ batchId: 'smoke:e1:g1:q1', entityId: 'e1', prefix: 'profile of e1' });
    expect(kindOf(smoke)).toEqual(['binary', 'ordinal', 'continuous', 'binary']);
    expect(pickedOf(smoke)).toEqual(['g1/q1', 'g1/q4', 'g1/q6', 'g2/q1']);
  });

  it('given the same plan twice, when picked, then the examples are the same (deterministic)', () => {
    expect(smokeBatch(PLAN, 7, ITEMS)).toEqual(smokeBatch(PLAN, 7, [...ITEMS].reverse()));
    expect(kindOf(smokeBatch(PLAN, 7, ITEMS))).toEqual(['binary', 'ordinal', 'continuous', 'binary', 'ordinal', 'continuous', 'binary']);
  });

  it('given a single kind, when picked, then the groups are taken in turn', () => {
    const binary = ITEMS.filter((i) => i.kind === 'binary');
    expect(pickedOf(smokeBatch([batch('e1', binary)], 4, ITEMS))).toEqual(['g1/q1', 'g2/q1', 'g3/q1', 'g1/q2']);
  });

  it('given more examples than the entity has prompts, when picked, then each prompt is asked once', () => {
    const few = [batch('e1', ITEMS.slice(0, 4))];
    const smoke = smokeBatch(few, 10, ITEMS);
    expect(smoke.prompts).toHaveLength(4);
    expect(new Set(pickedOf(smoke)).size).toBe(4);
  });

  it('given bad input, when picked, then the error names the problem', () => {
    expect(() => smokeBatch([], 4, ITEMS)).toThrow('smokeBatch: the plan has no batches');
    expect(() => smokeBatch(PLAN, 0, ITEMS)).toThrow('examples must be a positive integer, got 0');
    expect(() => smokeBatch(PLAN, 4, ITEMS.slice(1))).toThrow('planned item group "g1" item "q1" is not among the items');
  });
});
