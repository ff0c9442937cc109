import { Module } from '@nestjs/common';
import { BatchScorer } from './batch-scorer';
import { EvaluationAssembler } from './evaluation-assembler';
import { EvaluationRequestedConsumer } from './evaluation-requested.consumer';
import { ExperimentStartedConsumer } from './experiment-started.consumer';
import { InferenceCompletedConsumer } from './inference-completed.consumer';
import { InferenceFailedConsumer } from './inference-failed.consumer';
import { Reevaluator } from './reevaluator';

@Module({
  controllers: [InferenceCompletedConsumer, InferenceFailedConsumer, EvaluationRequestedConsumer, ExperimentStartedConsumer],
  providers: [BatchScorer, EvaluationAssembler, Reevaluator],
})
export class EvaluatorModule {}
