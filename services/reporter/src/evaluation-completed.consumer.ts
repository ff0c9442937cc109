import { Controller } from '@nestjs/common';
import { Payload } from '@nestjs/microservices';
import { Subjects, type EvaluationCompleted } from '@assay/contracts';
import { EventStore } from '@assay/event-store';
import { decide, ExperimentStates, handleExperimentCommand, type Provide, type ReportCommand } from '@assay/experiments';
import { PoisonMessageError, RunLog } from '@assay/messaging';
import { outputNotWritable } from '@assay/report';
import { OnEvent, ServiceInfo } from '@assay/messaging/nest';
import { ReportBuilder, type BuiltReport } from './report-builder';

/**
 * evaluation.completed (of the run, or of a re-evaluation round) → the run directory, then the
 * experiment decider's report: report.generated and experiment.completed, so the registry shows
 * the latest round's numbers. The run's own evaluation of an attempt that was cancelled (or
 * failed) meanwhile completes nothing: the attempt stays as it ended.
 */
@Controller()
export class EvaluationCompletedConsumer {
  constructor(
    private readonly states: ExperimentStates,
    private readonly store: EventStore,
    private readonly builder: ReportBuilder,
    private readonly info: ServiceInfo,
    private readonly runLog: RunLog,
  ) {}

  @OnEvent(Subjects['evaluation.completed'], { concurrency: 1 })
  async onEvaluationCompleted(@Payload() event: EvaluationCompleted): Promise<void> {
    const { identity } = event.data;
    const command: ReportCommand = { type: 'report', event, by: { producer: 'reporter', codeVersion: this.info.codeVersion } };
    // Nothing to report (an ended attempt, a redelivery): no tree is written.
    const first = decide(command, await this.states.load(this.store, identity));
    if (first.kind !== 'need') return;
    const began = performance.now();
    // Written before the transaction: a crash after it means a redelivery rebuilds the same bytes.
    // Built once even when the append is decided again after a conflict: it is the latest round's tree either way.
    const building: { done: BuiltReport | null } = { done: null };
    const provide: Provide<ReportCommand> = async (need, cmd) => {
      if (need.input !== 'report') throw new Error(`the reporter cannot supply '${need.input}'`);
      building.done ??= await this.builder.build(identity).catch((error: unknown) => {
        // Permissions or a full disk do not change on redelivery: fail the run at the report stage now.
        const unwritable = outputNotWritable(error, `the run directory of ${identity}`);
        throw unwritable === null ? error : new PoisonMessageError(unwritable);
      });
      return { ...cmd, built: building.done };
    };
    const { decision, handled } = await handleExperimentCommand({ store: this.store, states: this.states, consumer: 'reporter', messageId: event.id, identity, command, provide });
    const built = building.done;
    if (handled.duplicate || decision.kind !== 'append' || decision.events.length === 0 || !built) return;
    const seconds = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;
    const { readMs, writeMs, swapMs } = built.took;
    this.runLog.write(
      built.runDir,
      built.attempt,
      `report of evaluation round ${built.round} written: ${built.files} files in ${seconds(performance.now() - began)} (reading the log ${seconds(readMs)}, writing ${seconds(writeMs)}, swapping in ${seconds(swapMs)}; tree ${built.treeHash.slice(0, 12)}; ${built.staged} item files of them written while the round was scored)`,
    );
  }
}
