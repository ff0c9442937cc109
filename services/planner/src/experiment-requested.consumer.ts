import { Controller } from '@nestjs/common';
import { Payload } from '@nestjs/microservices';
import { AnyExperimentConfig, requireModelSection } from '@assay/config';
import { methodCatalog } from '@assay/methods/registry';
import { causedBy, createEvent, errorMessage, experimentStream, requestStream, Subjects, type AssayEvent, type ExperimentRequested } from '@assay/contracts';
import { EventStore, secondsSinceLastEvent } from '@assay/event-store';
import {
  checkLongestPrompt,
  checkModelServer,
  checkOutputWritable,
  decide,
  entityInputOf,
  ExperimentStates,
  handleExperimentCommand,
  planEntityInputBatches,
  pagedPlan,
  prepareExperiment,
  runDirFor,
  StageError,
  longestPrompt,
  NOTHING_TO_PREDICT,
  type PreparedExperiment,
  type Provide,
  type RequestCommand,
} from '@assay/experiments';
import { RunLog } from '@assay/messaging';
import { OnEvent, ServiceInfo } from '@assay/messaging/nest';
import { hostname } from 'node:os';
import { PlanCache } from './plan-cache';
import { PlanWriter, type HeldPlan } from './plan-writer';

interface Preflight {
  warnings: string[];
  error: StageError | null;
  /** The run's plan (no batches when the pre-flight failed or did not run). */
  plan: HeldPlan;
}

const NO_PLAN: HeldPlan = { batches: [] };

/**
 * experiment.requested → skipped (already completed / running: attach), or started + planned +
 * batches, or failed with the stage and a one-line reason: the experiment decider's request
 * command. Ten identical requests at once make exactly one run: each appends with the version it
 * decided on, and the losers decide again on the winner's events (attach).
 */
@Controller()
export class ExperimentRequestedConsumer {
  private readonly states = new ExperimentStates();

  constructor(
    private readonly store: EventStore,
    private readonly info: ServiceInfo,
    private readonly plans: PlanWriter,
    private readonly runLog: RunLog,
    private readonly cache: PlanCache,
  ) {}

  @OnEvent(Subjects['experiment.requested'])
  async onExperimentRequested(@Payload() event: ExperimentRequested): Promise<void> {
    const request = event.data;
    const record = { stream: requestStream(request.requestId), expected: 'any' as const, events: [event] };
    const failRequest = (stage: StageError['stage'], error: string, details: string[] = []) =>
      this.store.handle('planner', event.id, async () => [
        record,
        {
          stream: requestStream(request.requestId),
          expected: 'any',
          events: [
            createEvent(
              'experiment.failed',
              { requestId: request.requestId, identity: null, attempt: null, stage, error, details },
              causedBy(event, requestStream(request.requestId), 'planner', this.info.codeVersion),
            ),
          ],
        },
      ]);

    const parsed = AnyExperimentConfig.safeParse(request.config);
    if (!parsed.success) {
      await failRequest('config', `the requested config is invalid: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
      return;
    }
    const config = parsed.data;
    try {
      methodCatalog().settingsOf(config);
    } catch (error) {
      await failRequest('config', `the requested config is invalid: ${errorMessage(error)}`);
      return;
    }
    let prepared: PreparedExperiment;
    try {
      prepared = await prepareExperiment(config, this.info.codeVersion);
    } catch (error) {
      if (!(error instanceof StageError)) throw error;
      await failRequest(error.stage, error.message, error.details);
      return;
    }
    const identity = prepared.identity.identity;
    const stream = experimentStream(identity);
    const runDir = runDirFor(config.output_root, config.method, identity);
    const start = {
      requestId: request.requestId,
      identity,
      method: config.method,
      config: request.config,
      configHash: prepared.identity.configHash,
      identityAlgorithm: prepared.identity.algorithm,
      dataHashes: prepared.dataHashes,
      codeVersion: this.info.codeVersion,
      runDir,
      warnings: [...request.warnings, ...prepared.warnings],
      forced: request.force,
      smokeOnly: request.smokeOnly,
      host: hostname(),
    };
    // How long the stream has been silent: a forced request replaces a running attempt silent for longer than stale-after.
    const idleS = (await this.store.read((sql) => secondsSinceLastEvent(sql, stream))) ?? 0;
    // The expensive checks run once, and only when the decider starts a run (a completed identity calls no model).
    const checks: { done: Preflight | null } = { done: null };
    const provide: Provide<RequestCommand> = async (need, command) => {
      if (need.input !== 'preflight') throw new Error(`the planner cannot supply '${need.input}' for a request`);
      const checked = (checks.done ??= await this.preflight(prepared));
      return {
        ...command,
        preflight: checked.error
          ? { ok: false, stage: checked.error.stage, error: checked.error.message, details: checked.error.details }
          : { ok: true, plan: ({ ctx, attempt, stage }) => this.plans.planStage(ctx, { identity, attempt }, prepared, checked.plan, stage, checked.warnings) },
      };
    };
    const command: RequestCommand = { type: 'request', request: event, start, idleS, by: { producer: 'planner', codeVersion: this.info.codeVersion } };
    // The pre-flight calls the model server: run it before taking the stream's lock, when a look without the lock says the request starts a run.
    const unlocked = await this.states.load(this.store, identity);
    const look = decide(command, unlocked);
    const checked = look.kind === 'need' ? await provide(look.need, command, unlocked) : command;
    const { decision, handled } = await handleExperimentCommand({
      store: this.store,
      states: this.states,
      consumer: 'planner',
      messageId: event.id,
      identity,
      command: checked,
      provide,
      alsoAppend: [record],
      lock: 'a request for a running experiment would otherwise lose its decision to the run\'s batch appends again and again',
    });
    if (handled.duplicate || decision.kind !== 'append') return;
    // A gate (the smoke test) was planned: the stages after it use the checked plan, kept for them.
    const gated = decision.events.find((e) => e.type === 'experiment.planned' && e.data.phase === 'smoke');
    if (gated?.type === 'experiment.planned' && checks.done && !request.smokeOnly) this.cache.put(identity, gated.data.attempt, { prepared, plan: checks.done.plan });
    for (const e of decision.events) this.logOutcome(runDir, e);
  }

  /**
   * The expensive checks, on the plan the run will use: it is made here once and handed on. A
   * method fitted on the train split (a baseline) has no prompts and no model server to check:
   * the evaluator runs its fit on experiment.started.
   */
  private async preflight(prepared: PreparedExperiment): Promise<Preflight> {
    try {
      if (!methodCatalog().usesModel(prepared.config.method)) {
        checkOutputWritable(prepared.config.output_root);
        return { warnings: [], error: null, plan: NO_PLAN };
      }
      // A method whose prompts read a per-entity model output (a persona summary) starts with those
      // calls. A prediction plan is read through a page at a time: only its outline is kept.
      const plan: HeldPlan = entityInputOf(prepared) === null ? { paged: pagedPlan(prepared) } : { batches: planEntityInputBatches(prepared) };
      const longest = 'paged' in plan ? plan.paged.outline.longest : longestPrompt(plan.batches);
      if (longest === null) throw new StageError('preflight', NOTHING_TO_PREDICT);
      const config = requireModelSection(prepared.config);
      const facts = await checkModelServer(config);
      const warnings = await checkLongestPrompt(config, facts, longest);
      checkOutputWritable(prepared.config.output_root);
      return { warnings, error: null, plan };
    } catch (error) {
      if (error instanceof StageError) return { warnings: [], error, plan: NO_PLAN };
      throw error;
    }
  }

  private logOutcome(runDir: string, e: AssayEvent): void {
    switch (e.type) {
      case 'experiment.started':
        this.runLog.write(runDir, e.data.attempt, `step 1: started ${e.data.identity} attempt ${e.data.attempt} (code ${this.info.codeVersion})`);
        break;
      case 'experiment.planned':
        this.runLog.write(runDir, e.data.attempt, `planned ${e.data.phase} phase: ${e.data.batches} entity batches, ${e.data.prompts} prompts`);
        break;
      case 'experiment.failed':
        this.runLog.write(runDir, e.data.attempt, `FAILED at ${e.data.stage}: ${e.data.error}`);
        break;
      case 'experiment.cancelled':
        this.runLog.write(runDir, e.data.attempt, `attempt ${e.data.attempt} abandoned: ${e.data.reason}`);
        break;
      case 'experiment.skipped':
        process.stdout.write(`planner: ${e.data.identity} ${e.data.reason} (attempt ${e.data.attempt})\n`);
        break;
      default:
        break;
    }
  }
}

