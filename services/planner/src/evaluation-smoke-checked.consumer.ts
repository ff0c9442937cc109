import { Controller } from '@nestjs/common';
import { Payload } from '@nestjs/microservices';
import { Subjects, type EvaluationSmokeChecked, type ExperimentStarted } from '@assay/contracts';
import { EventStore } from '@assay/event-store';
import {
  dataChangedSince,
  ExperimentStates,
  handleExperimentCommand,
  pagedPlan,
  PLAN_CHUNKS,
  prepareExperiment,
  StageError,
  type PreparedExperiment,
  type Provide,
  type SmokeResultCommand,
} from '@assay/experiments';
import { RunLog } from '@assay/messaging';
import { OnEvent, ServiceInfo } from '@assay/messaging/nest';
import { PlanCache, type CachedPlan } from './plan-cache';
import { PlanWriter, type HeldPlan } from './plan-writer';

/**
 * evaluation.smoke.checked → the experiment decider's smoke_result: the run fails at stage `smoke`
 * (with the examples' raw outputs), a --smoke-only run completes, or the stages the smoke test
 * gated (the full run) are planned.
 */
@Controller()
export class EvaluationSmokeCheckedConsumer {
  private readonly states = new ExperimentStates();

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
    const command: SmokeResultCommand = { type: 'smoke_result', event, by: { producer: 'planner', codeVersion: this.info.codeVersion } };
    // The full run uses the plan the pre-flight checked: kept in memory when the smoke result
    // comes back to the process that started the run, else made again from the same inputs. The
    // identity covers config, data hashes and code version, and planning is deterministic, so an
    // unchanged identity means the same plan. A data file changed since the start is a failure.
    const provide: Provide<SmokeResultCommand> = async (need, cmd, state) => {
      if (need.input !== 'next_plan') throw new Error(`the planner cannot supply '${need.input}' for a smoke result`);
      const started = state.attempts.get(attempt)!.started;
      const cached = this.cache.take(identity, attempt);
      const planned = cached ? await this.reuse(cached) : await this.replan(started, identity);
      if ('error' in planned) return { ...cmd, nextPlan: { ok: false, error: planned.error } };
      return { ...cmd, nextPlan: { ok: true, plan: ({ ctx, stage }) => this.plans.planStage(ctx, { identity, attempt }, planned.prepared, planned.plan, stage, []) } };
    };
    // Hundreds of batch requests: in chunks, so workers start on the first ones while the rest
    // are written (crash-safe: see appendInChunks), each chunk's batches made as it is appended.
    const { decision, state, handled } = await handleExperimentCommand({
      store: this.store,
      states: this.states,
      consumer: 'planner',
      messageId: event.id,
      identity,
      command,
      provide,
      inChunks: PLAN_CHUNKS,
    });
    if (decision.kind !== 'append') throw new Error(`unexpected ${decision.kind} decision on a smoke result`);
    const runDir = state.attempts.get(attempt)?.started.data.runDir;
    if (!handled.duplicate && runDir) for (const line of decision.said) this.runLog.write(runDir, attempt, line);
  }

  private async reuse(cached: CachedPlan): Promise<{ prepared: PreparedExperiment; plan: HeldPlan } | { error: string }> {
    try {
      const changed = await dataChangedSince(cached.prepared);
      return changed === null ? cached : { error: changed };
    } catch (error) {
      if (error instanceof StageError) return { error: error.message };
      throw error;
    }
  }

  private async replan(started: ExperimentStarted, identity: string): Promise<{ prepared: PreparedExperiment; plan: HeldPlan } | { error: string }> {
    try {
      const prepared = await prepareExperiment(PlanWriter.configOf(started), started.data.codeVersion);
      if (prepared.identity.identity !== identity) return { error: 'the data files changed since the run started' };
      return { prepared, plan: { paged: pagedPlan(prepared) } };
    } catch (error) {
      if (error instanceof StageError) return { error: error.message };
      throw error;
    }
  }
}
