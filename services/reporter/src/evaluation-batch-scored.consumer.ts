import { Controller } from '@nestjs/common';
import { Payload } from '@nestjs/microservices';
import { Subjects, type EvaluationBatchScored } from '@assay/contracts';
import { PoisonMessageError } from '@assay/messaging';
import { OnEvent } from '@assay/messaging/nest';
import { outputNotWritable } from '@assay/report';
import { ReportBuilder } from './report-builder';

/**
 * evaluation.batch.scored (full phase, any round) → that batch's item files in the staging tree
 * of its attempt and round, while the rest of the run is still inferred and scored; the build at
 * evaluation.completed then writes only what depends on every entity. Appends nothing: a
 * redelivery writes the same bytes again.
 */
@Controller()
export class EvaluationBatchScoredConsumer {
  constructor(private readonly builder: ReportBuilder) {}

  @OnEvent(Subjects['evaluation.batch.scored'])
  async onEvaluationBatchScored(@Payload() event: EvaluationBatchScored): Promise<void> {
    // Smoke-test batches are not in the run directory.
    if (event.data.phase !== 'full') return;
    await this.builder.writeEarly(event).catch((error: unknown) => {
      // Permissions or a full disk do not change on redelivery; the build at evaluation.completed says so for the run.
      const unwritable = outputNotWritable(error, `the staged item files of ${event.data.identity}`);
      throw unwritable === null ? error : new PoisonMessageError(unwritable);
    });
  }
}
