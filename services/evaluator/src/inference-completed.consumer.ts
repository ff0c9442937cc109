import { Controller } from '@nestjs/common';
import { Payload } from '@nestjs/microservices';
import { Subjects, type InferenceCompleted } from '@assay/contracts';
import { OnEvent } from '@assay/messaging/nest';
import { BatchScorer, SCORE_GROUP_MAX } from './batch-scorer';

@Controller()
export class InferenceCompletedConsumer {
  constructor(private readonly scorer: BatchScorer) {}

  // Two groups' worth in hand: one being decided under the stream's lock, the next filling up behind it.
  @OnEvent(Subjects['inference.completed'], { concurrency: 2 * SCORE_GROUP_MAX })
  async onInferenceCompleted(@Payload() event: InferenceCompleted): Promise<void> {
    await this.scorer.score(event);
  }
}
