import { Controller } from '@nestjs/common';
import { Payload } from '@nestjs/microservices';
import { Subjects, type InferenceCompleted } from '@assay/contracts';
import { OnEvent } from '@assay/messaging/nest';
import { BatchScorer } from './batch-scorer';

@Controller()
export class InferenceCompletedConsumer {
  constructor(private readonly scorer: BatchScorer) {}

  @OnEvent(Subjects['inference.completed'])
  async onInferenceCompleted(@Payload() event: InferenceCompleted): Promise<void> {
    await this.scorer.score(event);
  }
}
