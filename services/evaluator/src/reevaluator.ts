import { Injectable } from '@nestjs/common';
import { causedBy, createEvent, experimentStream, requestStream, type AnyEnvelope, type AssayEvent, type EvaluationRequested } from '@assay/contracts';
import { EVALUATOR_VERSION } from '@assay/evaluation';
import { deadLetteredIds, EventStore, lockStream, readTypedEvents, type Sql, type StreamAppend } from '@assay/event-store';
import { decideReevaluation, scoreBatch } from '@assay/experiments';
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
 * evaluation.requested → a new evaluation round of an attempt, scored by this process's code from
 * the inference results already in the log (no model call, no inference event), or
 * evaluation.rejected saying why not. Decided under the experiment stream's lock, the one the
 * batch scorer holds, so a round never interleaves with the run's own scoring.
 */
@Injectable()
export class Reevaluator {
  constructor(
    private readonly store: EventStore,
    private readonly info: ServiceInfo,
    private readonly runLog: RunLog,
    private readonly assembler: EvaluationAssembler,
  ) {}

  async reevaluate(event: EvaluationRequested): Promise<void> {
    const { requestId, identity, attempt: requestedAttempt, reason, requestedBy } = event.data;
    const stream = experimentStream(identity);
    let done: { runDir: string; attempt: number; line: string } | null = null;
    await this.store.handle('evaluator', event.id, async (sql) => {
      await lockStream(sql, stream);
      const record: StreamAppend = { stream: requestStream(requestId), expected: 'any', events: [event] };
      const reject = (attempt: number | null, why: string): StreamAppend[] => [
        record,
        {
          stream: requestStream(requestId),
          expected: 'any',
          events: [createEvent('evaluation.rejected', { requestId, identity, attempt, reason: why }, causedBy(event, requestStream(requestId), 'evaluator', this.info.codeVersion))],
        },
      ];
      const events = await readTypedEvents(sql, stream, INPUT_TYPES);
      const decision = decideReevaluation({ identity, events, requestedAttempt, givenUp: await this.deadLettered(sql, events) });
      if (decision.kind === 'reject') return reject(decision.attempt, decision.reason);
      const changed = await this.assembler.dataChangedSince(decision.started);
      if (changed) return reject(decision.attempt, changed);

      const { attempt, round, started, planned } = decision;
      const ctx = causedBy(event, stream, 'evaluator', this.info.codeVersion);
      const scored = decision.batches.map(({ request, outcome }) => ({
        batchId: request.data.batchId,
        predictions: scoreBatch(request.data, outcome, planned.data.items, started.data.method),
      }));
      const completed = await this.assembler.completed({
        started,
        planned,
        round,
        reevaluation: { requestId, reason, requestedBy },
        predictions: scored.flatMap((s) => s.predictions),
        ctx,
      });
      const parseFailures = scored.reduce((n, s) => n + s.predictions.filter((p) => p.parseStatus === 'parse_failure').length, 0);
      done = {
        runDir: started.data.runDir,
        attempt,
        line: `evaluation round ${round} of attempt ${attempt} (${EVALUATOR_VERSION}): re-scored ${scored.length} batches from the log, no model calls; ${parseFailures} parse failures`,
      };
      return [
        record,
        {
          stream,
          expected: 'any',
          events: [
            ...scored.map((s) => createEvent('evaluation.batch.scored', { identity, attempt, round, phase: 'full', batchId: s.batchId, evaluatorVersion: EVALUATOR_VERSION, predictions: s.predictions }, ctx)),
            completed,
          ],
        },
      ];
    });
    const finished = done as { runDir: string; attempt: number; line: string } | null;
    if (finished) this.runLog.write(finished.runDir, finished.attempt, finished.line);
  }

  /** Ids of this stream's inference results a consumer gave up on (dead letters). */
  private deadLettered(sql: Sql, events: AnyEnvelope[]): Promise<Set<string>> {
    return deadLetteredIds(sql, events.filter((e) => e.type === 'inference.completed' || e.type === 'inference.failed').map((e) => e.id));
  }
}
