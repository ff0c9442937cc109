import { Controller, Logger } from '@nestjs/common';
import { Payload } from '@nestjs/microservices';
import { experimentStream, Subjects, type ExperimentCancelled, type ExperimentCompleted, type ExperimentFailed } from '@assay/contracts';
import { EventStore, readTypedEvents } from '@assay/event-store';
import { OnEvent } from '@assay/messaging/nest';
import { outputNotWritable } from '@assay/report';
import { ReportBuilder } from './report-builder';

/** Keeps outputs/<method>/registry.json in step with the log whenever a run ends. */
@Controller()
export class ExperimentFinishedConsumer {
  private readonly logger = new Logger(ExperimentFinishedConsumer.name);

  constructor(
    private readonly store: EventStore,
    private readonly builder: ReportBuilder,
  ) {}

  @OnEvent(Subjects['experiment.completed'], { concurrency: 1 })
  async onExperimentCompleted(@Payload() event: ExperimentCompleted): Promise<void> {
    await this.refreshRegistry(event.data.runDir);
  }

  @OnEvent(Subjects['experiment.failed'], { concurrency: 1 })
  async onExperimentFailed(@Payload() event: ExperimentFailed): Promise<void> {
    const { identity, attempt } = event.data;
    if (identity === null) return; // failed before it had an identity: no registry entry to show
    await this.writeRegistryOf(identity, attempt);
  }

  @OnEvent(Subjects['experiment.cancelled'], { concurrency: 1 })
  async onExperimentCancelled(@Payload() event: ExperimentCancelled): Promise<void> {
    await this.writeRegistryOf(event.data.identity, event.data.attempt);
  }

  private async writeRegistryOf(identity: string, attempt: number | null): Promise<void> {
    const started = (await this.store.read((sql) => readTypedEvents(sql, experimentStream(identity), ['experiment.started']))).find((e) => e.data.attempt === attempt);
    if (started) await this.refreshRegistry(started.data.runDir);
  }

  /**
   * registry.json is a projection of the log, rewritten whenever a run ends: an output folder
   * that cannot be written is said once and the message acked, not retried for minutes.
   */
  private async refreshRegistry(runDir: string): Promise<void> {
    try {
      await this.builder.writeRegistry(runDir);
    } catch (error) {
      const unwritable = outputNotWritable(error, 'registry.json');
      if (unwritable === null) throw error;
      this.logger.error(`${unwritable} (not retried; it is rewritten when the next run in this output_root ends)`);
    }
  }
}
