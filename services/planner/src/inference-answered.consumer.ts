import { Controller } from '@nestjs/common';
import { Payload } from '@nestjs/microservices';
import { errorMessage, Subjects, type ExperimentStarted, type InferenceCompleted, type InferenceFailed } from '@assay/contracts';
import { EventStore } from '@assay/event-store';
import {
  decide,
  ExperimentStates,
  handleExperimentCommand,
  prepareExperiment,
  StageError,
  streamedBatchEvents,
  streamedPlan,
  type PreparedExperiment,
  type StreamedPlan,
  type Provide,
  type StreamInputCommand,
} from '@assay/experiments';
import { RunLog } from '@assay/messaging';
import { OnEvent, ServiceInfo } from '@assay/messaging/nest';
import { PlanWriter } from './plan-writer';

/** What an attempt's streamed batches are made from: prepared once per planner process and attempt. */
interface StreamBasis {
  prepared: PreparedExperiment;
  /** Every entity's prediction batch (stand-in inputs: the stage's counts and each entity's place), and what makes one. */
  plan: StreamedPlan;
}

/**
 * inference.completed/failed → the experiment decider's stream_input: when the answer is an
 * entity input (a persona summary), that entity's prediction batch is requested right away,
 * whatever the other entities' summaries; an empty or failed one fails the run naming the entity.
 * Answers of other stages decide nothing here (the evaluator scores them).
 */
@Controller()
export class InferenceAnsweredConsumer {
  private readonly states = new ExperimentStates();
  private readonly bases = new Map<string, Promise<StreamBasis>>();

  constructor(
    private readonly store: EventStore,
    private readonly info: ServiceInfo,
    private readonly runLog: RunLog,
  ) {}

  @OnEvent(Subjects['inference.completed'])
  async onInferenceCompleted(@Payload() event: InferenceCompleted): Promise<void> {
    await this.streamInput(event);
  }

  @OnEvent(Subjects['inference.failed'])
  async onInferenceFailed(@Payload() event: InferenceFailed): Promise<void> {
    await this.streamInput(event);
  }

  private async streamInput(event: InferenceCompleted | InferenceFailed): Promise<void> {
    const { identity, attempt } = event.data;
    const provide: Provide<StreamInputCommand> = async (need, cmd, state) => {
      if (need.input !== 'stream_plan') throw new Error(`the planner cannot supply '${need.input}' for an answered batch`);
      const started = state.attempts.get(attempt)!.started;
      let basis: StreamBasis;
      try {
        basis = await this.basisOf(started);
      } catch (error) {
        if (error instanceof StageError) return { ...cmd, streamPlan: { ok: false, error: error.message } };
        throw error;
      }
      return {
        ...cmd,
        streamPlan: {
          ok: true,
          plan: ({ ctx, entityId, input, withPlanned, stage, earlierPrefixes }) =>
            streamedBatchEvents({ ctx, started: { identity, attempt }, prepared: basis.prepared, entityId, input, withPlanned, plan: basis.plan, stageKey: stage.key, earlierPrefixes }),
        },
      };
    };
    const command: StreamInputCommand = { type: 'stream_input', event, by: { producer: 'planner', codeVersion: this.info.codeVersion } };
    // Most answers are predictions, which start nothing here: a look without the stream's lock
    // says so, and only the message is recorded (the lock is for answers that plan batches).
    // The look may be on the state loaded last, without the stream's newer events: whatever makes
    // an answer start nothing (not an entity-input stage, the batch's first answer taken, the
    // answer handled, the attempt ended) stays true as the stream grows. Otherwise the planner
    // would read and parse every batch's answers and scores of the whole run only to learn that.
    const cached = this.states.cached(identity);
    const look = decide(command, cached?.attempts.has(attempt) ? cached : await this.states.load(this.store, identity));
    if (look.kind === 'append' && look.events.length === 0 && look.said.length === 0) {
      await this.store.handle('planner', event.id, async () => []);
      return;
    }
    const { decision, state, handled } = await handleExperimentCommand({
      store: this.store,
      states: this.states,
      consumer: 'planner',
      messageId: event.id,
      identity,
      command,
      provide,
      lock: 'the workers append other batches\' answers all the time; none of them changes what this answer starts, and the stage\'s experiment.planned must be written once',
    });
    const runDir = state.attempts.get(attempt)?.started.data.runDir;
    if (handled.duplicate || !runDir) return;
    for (const line of decision.kind === 'append' ? decision.said : []) this.runLog.write(runDir, attempt, line);
  }

  /** The attempt's data and plan counts, made again from its config (deterministic) and checked against its identity. */
  private basisOf(started: ExperimentStarted): Promise<StreamBasis> {
    const key = `${started.data.identity}#${started.data.attempt}`;
    let basis = this.bases.get(key);
    if (!basis) {
      basis = (async () => {
        const prepared = await prepareExperiment(PlanWriter.configOf(started), started.data.codeVersion);
        if (prepared.identity.identity !== started.data.identity) throw new StageError('inference', 'the data files changed since the run started');
        const ids = prepared.dataset.entities.map((e) => e.entityId);
        return { prepared, plan: streamedPlan(prepared, ids) };
      })();
      this.bases.set(key, basis);
      // A failed preparation is not kept: the next answer tries again. Bounded: only recent attempts.
      basis.catch((error: unknown) => {
        this.bases.delete(key);
        if (!(error instanceof StageError)) this.runLog.write(started.data.runDir, started.data.attempt, `planner: preparing the streamed plan failed: ${errorMessage(error)}`);
      });
      while (this.bases.size > 4) this.bases.delete(this.bases.keys().next().value as string);
    }
    return basis;
  }
}
