import { parseExperimentConfig } from '@assay/config';
import type { InferenceBatchRequested, ItemDef } from '@assay/contracts';
import { planEvents } from './plan-events';
import type { PlannedBatch, PreparedExperiment } from './prepare';

const ITEMS: ItemDef[] = [
  { group: 'g1', item: 'a', question: 'A?', min: 0, max: 1, kind: 'binary' },
  { group: 'g1', item: 'b', question: 'B?', min: 0, max: 1, kind: 'binary' },
  { group: 'g1', item: 'c', question: 'C?', min: 1, max: 5, kind: 'ordinal' },
  { group: 'g2', item: 'a', question: 'A2?', min: 0, max: 100, kind: 'continuous' },
];
const config = parseExperimentConfig(
  {
    name: 'plan-writer',
    method: 'llm_zero_shot',
    data: { profiles: 'p.csv', responses: 'r.csv', items: 'i.csv', split: 's.json' },
    model: { id: 'sim/llm-8b', base_url: 'http://127.0.0.1:1/v1' },
    smoke: { examples: 3 },
    output_root: '/tmp/unused',
  },
  '/tmp/plan-writer.yaml',
);
// Only what planEvents reads; the plan itself is handed in, never recomputed from the dataset.
const prepared = {
  config,
  dataset: { items: ITEMS },
  splitInfo: { path: 's.json', sha256: 'x', seed: 1, testFraction: 0.5, train: 1, test: 2, created: false },
} as unknown as PreparedExperiment;
const batch = (entityId: string): PlannedBatch => ({
  batchId: `${entityId}-0`,
  entityId,
  prefix: `prefix of ${entityId}`,
  prompts: ITEMS.map((it, i) => ({ promptId: `${entityId}-${i}`, group: it.group, item: it.item, suffix: `${it.item}?`, actual: 0 })),
});
const PLAN = [batch('e1'), batch('e2')];
const ctx = { stream: 'experiment-id1', correlationId: 'c1', causationId: '00000000-0000-4000-8000-000000000000', producer: 'planner', codeVersion: 'v' };

describe('planEvents', () => {
  it('given a plan and the full phase, when written, then one batch request per planned batch, in plan order, carrying its prompts', () => {
    const [planned, ...requests] = planEvents(ctx, { identity: 'id1', attempt: 1 }, prepared, PLAN, 'full', ['w']);
    expect(planned.type).toBe('experiment.planned');
    expect(planned.data).toMatchObject({ phase: 'full', batches: 2, prompts: 8, entities: 2, groups: ['g1', 'g2'], preflightWarnings: ['w'] });
    const data = requests.map((r) => (r as InferenceBatchRequested).data);
    expect(data.map((d) => [d.index, d.entityId, d.prefix])).toEqual([[0, 'e1', 'prefix of e1'], [1, 'e2', 'prefix of e2']]);
    expect(data[1].prompts).toEqual(PLAN[1].prompts);
  });

  it('given the same plan and the smoke phase, when written, then one batch of the first entity with varied item kinds', () => {
    const [planned, ...requests] = planEvents(ctx, { identity: 'id1', attempt: 1 }, prepared, PLAN, 'smoke', []);
    expect(planned.data).toMatchObject({ phase: 'smoke', batches: 1, prompts: 3 });
    expect(requests).toHaveLength(1);
    const smoke = (requests[0] as InferenceBatchRequested).data;
    expect(smoke.batchId).toBe('smoke:e1-0');
    expect(smoke.prompts.map((p) => `${p.group}/${p.item}`)).toEqual(['g1/a', 'g1/c', 'g2/a']);
  });
});
