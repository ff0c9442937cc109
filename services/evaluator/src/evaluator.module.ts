import { Module } from '@nestjs/common';
import { BatchScorer } from './batch-scorer';
import { InferenceCompletedConsumer } from './inference-completed.consumer';
import { InferenceFailedConsumer } from './inference-failed.consumer';

@Module({ controllers: [InferenceCompletedConsumer, InferenceFailedConsumer], providers: [BatchScorer] })
export class EvaluatorModule {}
