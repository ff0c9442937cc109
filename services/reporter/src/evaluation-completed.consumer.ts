import { Controller } from '@nestjs/common';
import { Payload } from '@nestjs/microservices';
import { causedBy, createEvent, experimentStream, Subjects, type EvaluationCompleted } from '@assay/contracts';
import { EventStore, lockStream, type Sql } from '@assay/event-store';
import { attemptEnd } from '@assay/experiments';
import { PoisonMessageError, RunLog } from '@assay/messaging';
import { outputNotWritable } from '@assay/report';
import { OnEvent, ServiceInfo } from '@assay/messaging/nest';
import { ReportBuilder } from './report-builder';

/**
 * evaluation.completed (of the run, or of a re-evaluation round) → the run directory, then
 * report.generated and experiment.completed: the registry then shows the latest round's numbers.
 * The run's own evaluation of an attempt that was cancelled (or failed) meanwhile completes
 * nothing: the attempt stays as it ended.
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
    if (await this.store.read((sql) => this.endedOtherwise(sql, event))) return;
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
    const outcome = await this.store.handle('reporter', event.id, async (sql) => {
      await lockStream(sql, stream);
      // Cancelled while the tree was written: the tree stays on disk, the attempt stays cancelled.
      if (await this.endedOtherwise(sql, event)) return [];
      const events = [
        createEvent('report.generated', { identity, attempt, round, runDir: built.runDir, files: built.files, treeHash: built.treeHash }, ctx),
        createEvent('experiment.completed', { identity, attempt, runDir: built.runDir, smokeOnly: false, summary: built.summary }, ctx),
      ];
      return [{ stream, expected: 'any', events }];
    });
    if (outcome.duplicate || outcome.appended.length === 0) return;
    this.runLog.write(built.runDir, `report of evaluation round ${round} written: ${built.files} files in ${((performance.now() - began) / 1000).toFixed(1)} s (tree ${built.treeHash.slice(0, 12)})`);
  }

  /** The run's own evaluation of an attempt that was cancelled or failed meanwhile (a re-evaluation round is asked for, so it always reports). */
  private async endedOtherwise(sql: Sql, event: EvaluationCompleted): Promise<boolean> {
    if (event.data.reevaluation !== null) return false;
    const end = await attemptEnd(sql, event.data.identity, event.data.attempt);
    return end !== null && end.type !== 'experiment.completed';
  }
}
