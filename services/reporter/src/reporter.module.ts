import { Module } from '@nestjs/common';
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
  providers: [ReportBuilder, ComparisonBuilder, LiveProgressHub],
})
export class ReporterModule {}
