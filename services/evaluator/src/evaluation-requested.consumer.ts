import { Controller } from '@nestjs/common';
import { Payload } from '@nestjs/microservices';
import { Subjects, type EvaluationRequested } from '@assay/contracts';
import { OnEvent } from '@assay/messaging/nest';
import { Reevaluator } from './reevaluator';

@Controller()
export class EvaluationRequestedConsumer {
  constructor(private readonly reevaluator: Reevaluator) {}

  @OnEvent(Subjects['evaluation.requested'])
  async onEvaluationRequested(@Payload() event: EvaluationRequested): Promise<void> {
    await this.reevaluator.reevaluate(event);
  }
}
