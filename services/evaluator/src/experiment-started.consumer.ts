import { Controller } from '@nestjs/common';
import { Payload } from '@nestjs/microservices';
import { Subjects, type ExperimentStarted } from '@assay/contracts';
import { EventStore } from '@assay/event-store';
import { ExperimentStates, FitError, handleExperimentCommand, runFitStage, type FitCommand, type Provide } from '@assay/experiments';
import { PoisonMessageError, RunLog } from '@assay/messaging';
import { OnEvent, ServiceInfo } from '@assay/messaging/nest';
import { EvaluationAssembler } from './evaluation-assembler';

/**
 * experiment.started → for a method fitted on the train split (a baseline), the decider's fit: the
 * fit stage's plan and predictions, then the evaluation, appended together. A model method's
 * attempt decides nothing here. A fit that cannot succeed (changed data, no usable feature) is
 * a dead letter at once, which fails the attempt with the fit's message.
 */
@Controller()
export class ExperimentStartedConsumer {
  private readonly states = new ExperimentStates();

  constructor(
    private readonly store: EventStore,
    private readonly info: ServiceInfo,
    private readonly runLog: RunLog,
    private readonly assembler: EvaluationAssembler,
  ) {}

  @OnEvent(Subjects['experiment.started'])
  async onExperimentStarted(@Payload() event: ExperimentStarted): Promise<void> {
    const provide: Provide<FitCommand> = async (need, command) => {
      switch (need.input) {
        case 'fit':
          try {
            return { ...command, fitted: await runFitStage(need.started) };
          } catch (error) {
            if (error instanceof FitError) throw new PoisonMessageError(error.message);
            throw error;
          }
        case 'evaluation':
          return { ...command, evaluation: await this.assembler.evaluate(need, (work) => this.store.read(work)) };
        default:
          throw new Error(`the fit consumer cannot supply '${need.input}'`);
      }
    };
    const { decision, handled } = await handleExperimentCommand({
      store: this.store,
      states: this.states,
      consumer: 'evaluator',
      messageId: event.id,
      identity: event.data.identity,
      command: { type: 'fit', event, by: { producer: 'evaluator', codeVersion: this.info.codeVersion } },
      provide,
    });
    if (handled.duplicate || decision.kind !== 'append') return;
    for (const line of decision.said) this.runLog.write(event.data.runDir, event.data.attempt, line);
  }
}
