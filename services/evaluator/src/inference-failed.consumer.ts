import { Controller } from '@nestjs/common';
import { Payload } from '@nestjs/microservices';
import { Subjects, type InferenceFailed } from '@assay/contracts';
import { OnEvent } from '@assay/messaging/nest';
import { BatchScorer } from './batch-scorer';

@Controller()
export class InferenceFailedConsumer {
  constructor(private readonly scorer: BatchScorer) {}

  @OnEvent(Subjects['inference.failed'])
  async onInferenceFailed(@Payload() event: InferenceFailed): Promise<void> {
    await this.scorer.score(event);
  }
}
