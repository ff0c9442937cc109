import { Controller } from '@nestjs/common';
import { Payload } from '@nestjs/microservices';
import { causedBy, createEvent, experimentStream, Subjects, type EvaluationSmokeChecked, type ExperimentStarted } from '@assay/contracts';
import { EventStore, readStream } from '@assay/event-store';
import { appendInChunks, attemptEnd, dataChangedSince, describeEnd, planBatches, prepareExperiment, StageError, type PlannedBatch, type PreparedExperiment } from '@assay/experiments';
import { RunLog } from '@assay/messaging';
import { OnEvent, ServiceInfo } from '@assay/messaging/nest';
import { PlanCache, type CachedPlan } from './plan-cache';
import { PlanWriter } from './plan-writer';

/**
 * The smoke test (a few examples through the whole pipeline before the full run) passed → plan the
 * full run, or finish a --smoke-only run; it failed → the run fails at stage `smoke`, with the
 * examples' raw outputs for the user.
 */
@Controller()
export class EvaluationSmokeCheckedConsumer {
  constructor(
    private readonly store: EventStore,
    private readonly info: ServiceInfo,
    private readonly plans: PlanWriter,
    private readonly runLog: RunLog,
    private readonly cache: PlanCache,
  ) {}

  @OnEvent(Subjects['evaluation.smoke.checked'])
  async onEvaluationSmokeChecked(@Payload() event: EvaluationSmokeChecked): Promise<void> {
    const { identity, attempt } = event.data;
    const stream = experimentStream(identity);
    const [started] = (await this.store.read((sql) => readStream(sql, stream, { types: ['experiment.started'] }))).filter(
      (e) => (e.data as ExperimentStarted['data']).attempt === attempt,
    ) as unknown as ExperimentStarted[];
    if (!started) throw new Error(`smoke result for ${identity} attempt ${attempt} has no experiment.started in the log`);
    const ctx = causedBy(event, stream, 'planner', this.info.codeVersion);
    const runDir = started.data.runDir;
    // Cancelled during its smoke test: no full run. (A cancel landing after this look finds the
    // batches dropped by the workers, which check again.)
    const ended = await this.store.read((sql) => attemptEnd(sql, identity, attempt));
    if (ended) {
      this.runLog.write(runDir, `smoke result not acted on: the attempt ended (${describeEnd(ended)})`);
      return;
    }
    const examples = event.data.examples.map((x) => `${x.entityId} / ${x.group} / ${x.item}: ${x.status}: ${JSON.stringify(x.output)}`);

    if (!event.data.passed) {
      const failedChecks = event.data.checks.filter((c) => !c.passed).map((c) => `${c.check}: ${c.detail}`);
      await this.store.handle('planner', event.id, async () => [
        {
          stream,
          expected: 'any',
          events: [createEvent('experiment.failed', { requestId: started.data.requestId, identity, attempt, stage: 'smoke', error: `smoke test failed: ${failedChecks.join('; ')}`, details: examples }, ctx)],
        },
      ]);
      this.runLog.write(runDir, `smoke test FAILED: ${failedChecks.join('; ')}`);
      return;
    }
    if (started.data.smokeOnly) {
      await this.store.handle('planner', event.id, async () => [
        {
          stream,
          expected: 'any',
          events: [createEvent('experiment.completed', { identity, attempt, runDir, smokeOnly: true, summary: { smoke: 'passed', examples: examples.length } }, ctx)],
        },
      ]);
      this.runLog.write(runDir, 'smoke test passed (--smoke-only: stopping here)');
      return;
    }
    // The full run uses the plan the pre-flight checked: kept in memory when the smoke result
    // comes back to the process that started the run, else made again from the same inputs. The
    // identity covers config, data hashes and code version, and planning is deterministic, so an
    // unchanged identity means the same plan. A data file changed since the start is a failure.
    const cached = this.cache.take(identity, attempt);
    const planned = cached ? await this.reuse(cached) : await this.replan(started, identity);
    const changed = 'error' in planned ? planned.error : null;
    if ('error' in planned) {
      await this.store.handle('planner', event.id, async () => [
        {
          stream,
          expected: 'any',
          events: [createEvent('experiment.failed', { requestId: started.data.requestId, identity, attempt, stage: 'preflight', error: planned.error, details: [] }, ctx)],
        },
      ]);
    } else {
      // Hundreds of batch requests: in chunks, so workers start on the first ones while the rest
      // are written (crash-safe: see appendInChunks).
      await appendInChunks(this.store, 'planner', event.id, stream, this.plans.planEvents(event, started.data, planned.prepared, planned.plan, 'full', []));
    }
    this.runLog.write(runDir, changed ? `FAILED: ${changed}` : 'smoke test passed: full run planned');
  }

  private async reuse(cached: CachedPlan): Promise<{ prepared: PreparedExperiment; plan: PlannedBatch[] } | { error: string }> {
    try {
      const changed = await dataChangedSince(cached.prepared);
      return changed === null ? cached : { error: changed };
    } catch (error) {
      if (error instanceof StageError) return { error: error.message };
      throw error;
    }
  }

  private async replan(started: ExperimentStarted, identity: string): Promise<{ prepared: PreparedExperiment; plan: PlannedBatch[] } | { error: string }> {
    try {
      const prepared = await prepareExperiment(PlanWriter.configOf(started), started.data.codeVersion);
      if (prepared.identity.identity !== identity) return { error: 'the data files changed since the run started' };
      return { prepared, plan: planBatches(prepared) };
    } catch (error) {
      if (error instanceof StageError) return { error: error.message };
      throw error;
    }
  }
}
