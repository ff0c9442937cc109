import { Controller, Logger } from '@nestjs/common';
import { Payload } from '@nestjs/microservices';
import { Subjects, type EvaluationBatchScored } from '@assay/contracts';
import { EventStore } from '@assay/event-store';
import { ExperimentStates } from '@assay/experiments';
import { OnEvent } from '@assay/messaging/nest';
import { outputNotWritable } from '@assay/report';
import { ReportBuilder } from './report-builder';

/**
 * evaluation.batch.scored (full phase, any round) → that batch's item files in the staging tree
 * of its attempt and round, while the rest of the run is still inferred and scored; the build at
 * evaluation.completed then writes only what depends on every entity. Appends nothing: a
 * redelivery writes the same bytes again.
 *
 * It also keeps the reporter's state of the experiment (shared with EvaluationCompletedConsumer)
 * current as batches are scored, reading only what was appended since. Loaded first at
 * evaluation.completed, the whole run's stream was folded before the build could start: the
 * build began 0.6-0.7 s after the evaluation at the bench's size, and a fold of the ten-times
 * run's stream takes 2.5-3.3 s.
 */
@Controller()
export class EvaluationBatchScoredConsumer {
  private readonly logger = new Logger(EvaluationBatchScoredConsumer.name);
  /** Attempts whose staging tree could not be written: said once each, not per batch. */
  private readonly unwritable = new Set<string>();

  constructor(
    private readonly builder: ReportBuilder,
    private readonly states: ExperimentStates,
    private readonly store: EventStore,
  ) {}

  @OnEvent(Subjects['evaluation.batch.scored'])
  async onEvaluationBatchScored(@Payload() event: EvaluationBatchScored): Promise<void> {
    // Smoke-test batches are not in the run directory.
    if (event.data.phase !== 'full') return;
    try {
      await this.builder.writeEarly(event);
    } catch (error) {
      const unwritable = outputNotWritable(error, `the staged item files of ${event.data.identity}`);
      if (unwritable === null) throw error;
      // Permissions or a full disk do not change on redelivery, and staging only saves time: the
      // build at evaluation.completed renders every batch not staged, and fails the run at the
      // report stage, naming the path, if the directory still cannot be written.
      const attempt = `${event.data.identity}#${event.data.attempt}`;
      if (!this.unwritable.has(attempt)) {
        this.unwritable.add(attempt);
        this.logger.warn(`${unwritable}; its item files are left to the build at evaluation.completed`);
      }
    }
    await this.states.load(this.store, event.data.identity);
  }
}
