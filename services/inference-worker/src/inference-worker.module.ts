import { Module } from '@nestjs/common';
import { InferenceBatchRequestedConsumer } from './inference-batch-requested.consumer';

@Module({ controllers: [InferenceBatchRequestedConsumer] })
export class InferenceWorkerModule {}
