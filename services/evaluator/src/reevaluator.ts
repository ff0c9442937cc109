import { Injectable } from '@nestjs/common';
import { experimentStream, requestStream, type AnyEnvelope, type AssayEvent, type EvaluationRequested } from '@assay/contracts';
import { deadLetteredIds, EventStore, readTypedEvents } from '@assay/event-store';
import { ExperimentStates, handleExperimentCommand, type Provide, type ReevaluateCommand } from '@assay/experiments';
import { RunLog } from '@assay/messaging';
import { ServiceInfo } from '@assay/messaging/nest';
import { EvaluationAssembler } from './evaluation-assembler';

/** What deciding and re-scoring need; the big scored batches of earlier rounds are not read. */
const INPUT_TYPES: Array<AssayEvent['type']> = [
  'experiment.started',
  'experiment.planned',
  'experiment.completed',
  'experiment.failed',
  'inference.batch.requested',
  'inference.completed',
  'inference.failed',
  'evaluation.completed',
];

/**
 * evaluation.requested → the experiment decider's reevaluate: a new evaluation round of an attempt,
 * scored by this process's code from the inference results already in the log (no model call, no
 * inference event), or evaluation.rejected saying why not. This class only supplies what the
 * decider asks for (the stream's events and dead letters, whether the data changed, the assembled
 * evaluation). No stream lock: the round is appended with the expected version, so one decided
 * while the run's own scoring appended is decided again on the new state.
 */
@Injectable()
export class Reevaluator {
  private readonly states = new ExperimentStates();

  constructor(
    private readonly store: EventStore,
    private readonly info: ServiceInfo,
    private readonly runLog: RunLog,
    private readonly assembler: EvaluationAssembler,
  ) {}

  async reevaluate(event: EvaluationRequested): Promise<void> {
    const { requestId, identity } = event.data;
    const stream = experimentStream(identity);
    const provide: Provide<ReevaluateCommand> = async (need, command) => {
      switch (need.input) {
        case 'reevaluation_inputs':
          return {
            ...command,
            inputs: await this.store.read(async (sql) => {
              const events = await readTypedEvents(sql, stream, INPUT_TYPES);
              return { events, givenUp: await deadLetteredIds(sql, outcomeIds(events)) };
            }),
          };
        case 'data_changed':
          return { ...command, dataChanged: await this.assembler.dataChangedSince(need.started) };
        case 'evaluation':
          return { ...command, evaluation: await this.assembler.evaluate(need, (work) => this.store.read(work)) };
        default:
          throw new Error(`the reevaluator cannot supply '${need.input}'`);
      }
    };
    const { decision, state, handled } = await handleExperimentCommand({
      store: this.store,
      states: this.states,
      consumer: 'evaluator',
      messageId: event.id,
      identity,
      command: { type: 'reevaluate', event, by: { producer: 'evaluator', codeVersion: this.info.codeVersion } },
      provide,
      // The request is recorded in its own stream, with the round or the rejection.
      alsoAppend: [{ stream: requestStream(requestId), expected: 'any', events: [event] }],
    });
    if (handled.duplicate || decision.kind !== 'append') return;
    const completed = decision.events.find((e) => e.type === 'evaluation.completed');
    if (completed?.type !== 'evaluation.completed') return;
    const { attempt } = completed.data;
    const runDir = state.attempts.get(attempt)?.started.data.runDir;
    if (runDir) for (const line of decision.said) this.runLog.write(runDir, attempt, line);
  }
}

/** Ids of the stream's inference results: a consumer giving up on one of them (dead letter) is the evidence that a round without an end crashed. */
function outcomeIds(events: AnyEnvelope[]): string[] {
  return events.filter((e) => e.type === 'inference.completed' || e.type === 'inference.failed').map((e) => e.id);
}
