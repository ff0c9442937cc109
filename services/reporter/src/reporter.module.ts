import { Module } from '@nestjs/common';
import { ExperimentStates } from '@assay/experiments';
import { EvaluationBatchScoredConsumer } from './evaluation-batch-scored.consumer';
import { EvaluationCompletedConsumer } from './evaluation-completed.consumer';
import { ExperimentFinishedConsumer } from './experiment-finished.consumer';
import { ComparisonBuilder } from './comparison-builder';
import { ComparisonsController } from './http/comparisons.controller';
import { ExperimentsController } from './http/experiments.controller';
import { HealthController } from './http/health.controller';
import { LiveProgressHub } from './http/live-progress';
import { ViewerController } from './http/viewer.controller';
import { ReportBuilder } from './report-builder';

@Module({
  controllers: [EvaluationBatchScoredConsumer, EvaluationCompletedConsumer, ExperimentFinishedConsumer, HealthController, ExperimentsController, ComparisonsController, ViewerController],
  // One ExperimentStates for the consumers: the batch consumer keeps it current for the report's.
  providers: [ReportBuilder, ComparisonBuilder, LiveProgressHub, { provide: ExperimentStates, useFactory: () => new ExperimentStates() }],
})
export class ReporterModule {}
