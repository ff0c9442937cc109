import { Controller } from '@nestjs/common';
import { Payload } from '@nestjs/microservices';
import { causedBy, createEvent, experimentStream, Subjects, type EvaluationCompleted } from '@assay/contracts';
import { EventStore } from '@assay/event-store';
import { PoisonMessageError, RunLog } from '@assay/messaging';
import { outputNotWritable } from '@assay/report';
import { OnEvent, ServiceInfo } from '@assay/messaging/nest';
import { ReportBuilder } from './report-builder';

/**
 * evaluation.completed (of the run, or of a re-evaluation round) → the run directory, then
 * report.generated and experiment.completed: the registry then shows the latest round's numbers.
 */
@Controller()
export class EvaluationCompletedConsumer {
  constructor(
    private readonly store: EventStore,
    private readonly builder: ReportBuilder,
    private readonly info: ServiceInfo,
    private readonly runLog: RunLog,
  ) {}

  @OnEvent(Subjects['evaluation.completed'], { concurrency: 1 })
  async onEvaluationCompleted(@Payload() event: EvaluationCompleted): Promise<void> {
    const { identity } = event.data;
    const began = performance.now();
    // Written before the transaction: a crash here means a redelivery rebuilds the same bytes.
    // Always the latest round: a late event of an older round must not bring its numbers back.
    const built = await this.builder.build(identity).catch((error: unknown) => {
      // Permissions or a full disk do not change on redelivery: fail the run at the report stage now.
      const unwritable = outputNotWritable(error, `the run directory of ${identity}`);
      throw unwritable === null ? error : new PoisonMessageError(unwritable);
    });
    const { attempt, round } = built;
    const stream = experimentStream(identity);
    const ctx = causedBy(event, stream, 'reporter', this.info.codeVersion);
    const outcome = await this.store.handle('reporter', event.id, async () => [
      {
        stream,
        expected: 'any',
        events: [
          createEvent('report.generated', { identity, attempt, round, runDir: built.runDir, files: built.files, treeHash: built.treeHash }, ctx),
          createEvent('experiment.completed', { identity, attempt, runDir: built.runDir, smokeOnly: false, summary: built.summary }, ctx),
        ],
      },
    ]);
    if (outcome.duplicate) return;
    this.runLog.write(built.runDir, `report of evaluation round ${round} written: ${built.files} files in ${((performance.now() - began) / 1000).toFixed(1)} s (tree ${built.treeHash.slice(0, 12)})`);
  }
}
