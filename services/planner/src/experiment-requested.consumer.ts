import { Controller } from '@nestjs/common';
import { Payload } from '@nestjs/microservices';
import { ExperimentConfig } from '@assay/config';
import { causedBy, createEvent, experimentStream, requestStream, Subjects, type AnyEnvelope, type ExperimentRequested } from '@assay/contracts';
import { EventStore, lockStream, readStream, secondsSinceLastEvent, type Sql, type StreamAppend } from '@assay/event-store';
import {
  checkLongestPrompt,
  checkModelServer,
  checkOutputWritable,
  decideRequest,
  DEFAULT_STALE_AFTER_S,
  entryFromStream,
  planBatches,
  prepareExperiment,
  abandonedReason,
  REGISTRY_EVENT_TYPES,
  runDirFor,
  StageError,
  type PlannedBatch,
  type PreparedExperiment,
} from '@assay/experiments';
import { RunLog, TransientError } from '@assay/messaging';
import { OnEvent, ServiceInfo } from '@assay/messaging/nest';
import { hostname } from 'node:os';
import { PlanCache } from './plan-cache';
import { PlanWriter } from './plan-writer';

interface Preflight {
  warnings: string[];
  error: StageError | null;
  /** The run's batches (empty when the pre-flight failed or did not run). */
  plan: PlannedBatch[];
}

/**
 * experiment.requested → skipped (already completed / running: attach), or started + planned +
 * batches, or failed with the stage and a one-line reason. The decision is taken under the
 * identity stream's lock, so ten identical requests at once make exactly one run.
 */
@Controller()
export class ExperimentRequestedConsumer {
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

    const parsed = ExperimentConfig.safeParse(request.config);
    if (!parsed.success) {
      await failRequest('config', `the requested config is invalid: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
      return;
    }
    const config = parsed.data;
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
    const registryEvents = (sql: Sql) => readStream(sql, stream, { types: REGISTRY_EVENT_TYPES });
    // How long the stream has been silent: a forced request replaces a running attempt silent for longer than stale-after.
    const decide = async (sql: Sql) =>
      decideRequest(entryFromStream(await registryEvents(sql), identity), request.force, {
        idleS: (await secondsSinceLastEvent(sql, stream)) ?? 0,
        staleAfterS: request.staleAfterS ?? DEFAULT_STALE_AFTER_S,
      });

    // Expensive checks only when the request will start a run (a completed identity calls no model).
    const before = await this.store.read(decide);
    let preflight: Preflight = { warnings: [], error: null, plan: [] };
    if (before.kind === 'start') preflight = await this.preflight(prepared);

    const ctx = causedBy(event, stream, 'planner', this.info.codeVersion);
    // Set inside the transaction: the attempt whose smoke phase was planned (its full run comes later).
    const smokePlanned: { attempt: number | null } = { attempt: null };
    const outcome = await this.store.handle('planner', event.id, async (sql) => {
      await lockStream(sql, stream);
      const decision = await decide(sql);
      const appends: StreamAppend[] = [record];
      if (decision.kind === 'skip') {
        appends.push({
          stream,
          expected: 'any',
          events: [createEvent('experiment.skipped', { requestId: request.requestId, identity, reason: decision.reason, attempt: decision.attempt, runDir: decision.runDir }, ctx)],
        });
        return appends;
      }
      // The identity finished between our first look and the lock: plan afresh on redelivery.
      if (before.kind !== 'start') throw new TransientError(`registry of ${identity} changed while planning`);
      const started = createEvent(
        'experiment.started',
        {
          requestId: request.requestId,
          identity,
          attempt: decision.attempt,
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
          previousFailure: decision.previousFailure,
          host: hostname(),
        },
        ctx,
      );
      const events: AnyEnvelope[] = [started];
      if (decision.abandon) {
        // The silent attempt ends first, so its workers drop its batches and its CLIs say why.
        const { attempt } = decision.abandon;
        events.unshift(createEvent('experiment.cancelled', { identity, attempt, reason: abandonedReason(decision.abandon, decision.attempt), kind: 'abandoned', by: request.requestedBy, requestId: request.requestId }, ctx));
      }
      if (preflight.error) {
        events.push(
          createEvent(
            'experiment.failed',
            { requestId: request.requestId, identity, attempt: decision.attempt, stage: preflight.error.stage, error: preflight.error.message, details: preflight.error.details },
            ctx,
          ),
        );
      } else {
        const phase = config.smoke.enabled || request.smokeOnly ? 'smoke' : 'full';
        events.push(...this.plans.planEvents(event, started.data, prepared, preflight.plan, phase, preflight.warnings));
        smokePlanned.attempt = phase === 'smoke' && !request.smokeOnly ? decision.attempt : null;
      }
      appends.push({ stream, expected: 'any', events });
      return appends;
    });
    if (outcome.duplicate) return;
    // The full run follows the smoke result: keep the checked plan for it.
    if (smokePlanned.attempt !== null) this.cache.put(identity, smokePlanned.attempt, { prepared, plan: preflight.plan });
    for (const e of outcome.appended) this.logOutcome(runDir, e);
  }

  /** The expensive checks, on the plan the run will use: it is made here once and handed on. */
  private async preflight(prepared: PreparedExperiment): Promise<Preflight> {
    try {
      const plan = planBatches(prepared);
      const facts = await checkModelServer(prepared.config);
      const warnings = await checkLongestPrompt(prepared.config, facts, plan);
      checkOutputWritable(prepared.config.output_root);
      return { warnings, error: null, plan };
    } catch (error) {
      if (error instanceof StageError) return { warnings: [], error, plan: [] };
      throw error;
    }
  }

  private logOutcome(runDir: string, e: AnyEnvelope): void {
    const d = e.data as Record<string, unknown>;
    switch (e.type) {
      case 'experiment.started':
        this.runLog.write(runDir, `step 1: started ${String(d.identity)} attempt ${String(d.attempt)} (code ${this.info.codeVersion})`);
        break;
      case 'experiment.planned':
        this.runLog.write(runDir, `planned ${String(d.phase)} phase: ${String(d.batches)} entity batches, ${String(d.prompts)} prompts`);
        break;
      case 'experiment.failed':
        this.runLog.write(runDir, `FAILED at ${String(d.stage)}: ${String(d.error)}`);
        break;
      case 'experiment.cancelled':
        this.runLog.write(runDir, `attempt ${String(d.attempt)} abandoned: ${String(d.reason)}`);
        break;
      case 'experiment.skipped':
        process.stdout.write(`planner: ${String(d.identity)} ${String(d.reason)} (attempt ${String(d.attempt)})\n`);
        break;
      default:
        break;
    }
  }
}
