import { ExperimentConfig } from '@assay/config';
import type { InferenceBatchRequested } from '@assay/contracts';
import { copyFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { streamedBatchEvents, streamedPlan } from './entity-input';
import { planBatches, prepareExperiment, type PreparedExperiment } from './prepare';

describe('streamedPlan and streamedBatchEvents (a stage planned entity by entity from its summaries)', () => {
  const sample = join(__dirname, '..', '..', '..', '..', 'data', 'sample');
  const ctx = { stream: 'experiment-id1', correlationId: 'c1', causationId: '00000000-0000-4000-8000-000000000000', producer: 'planner', codeVersion: 'v' };

  async function prepared(): Promise<PreparedExperiment> {
    const dir = mkdtempSync(join(tmpdir(), 'assay-streamed-'));
    for (const f of ['profiles.csv', 'responses.csv', 'items.csv', 'split.json']) copyFileSync(join(sample, f), join(dir, f));
    const config = ExperimentConfig.parse({
      name: 'streamed-test',
      method: 'llm_persona_two_stage',
      data: { profiles: join(dir, 'profiles.csv'), responses: join(dir, 'responses.csv'), items: join(dir, 'items.csv'), split: join(dir, 'split.json') },
      split: { seed: 42, test_fraction: 0.2 },
      model: { id: 'sim/llm-8b', base_url: 'http://127.0.0.1:9/v1' },
      output_root: '/tmp/unused',
    });
    return prepareExperiment(config, 'test');
  }

  it('given the plan set up once, when each entity\'s summary comes, then its batch is the one a plan of that entity alone makes, at its place in plan order', async () => {
    const p = await prepared();
    const ids = p.split.test;
    const plan = streamedPlan(p, ids);
    expect(plan.totals.length).toBeGreaterThan(1);
    for (const [index, { entityId }] of plan.totals.entries()) {
      const input = `summary of ${entityId}`;
      const events = streamedBatchEvents({ ctx, started: { identity: 'id1', attempt: 1 }, prepared: p, entityId, input, withPlanned: index === 0, plan, stageKey: 'k', earlierPrefixes: new Set() });
      const request = events[events.length - 1] as InferenceBatchRequested;
      const [alone] = planBatches(p, { entityInputs: new Map([[entityId, input]]), only: new Set([entityId]) });
      expect(request.data).toMatchObject({ index, batchId: alone.batchId, prefix: alone.prefix, prompts: alone.prompts });
      expect(events.map((e) => e.type)).toEqual(index === 0 ? ['experiment.planned', 'inference.batch.requested'] : ['inference.batch.requested']);
    }
  });

  it('given an entity without a planned batch, when its summary comes, then the error names it', async () => {
    const p = await prepared();
    const plan = streamedPlan(p, p.split.test);
    expect(() => streamedBatchEvents({ ctx, started: { identity: 'id1', attempt: 1 }, prepared: p, entityId: 'nobody', input: 'x', withPlanned: false, plan, stageKey: 'k', earlierPrefixes: new Set() })).toThrow(
      'entity "nobody" answered an entity-input call but has no planned prediction batch',
    );
  });
});
