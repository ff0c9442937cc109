import { Module } from '@nestjs/common';
import { EvaluationCompletedConsumer } from './evaluation-completed.consumer';
import { ExperimentFinishedConsumer } from './experiment-finished.consumer';
import { ComparisonBuilder } from './comparison-builder';
import { ComparisonsController } from './http/comparisons.controller';
import { ExperimentsController } from './http/experiments.controller';
import { HealthController } from './http/health.controller';
import { ReportBuilder } from './report-builder';

@Module({
  controllers: [EvaluationCompletedConsumer, ExperimentFinishedConsumer, HealthController, ExperimentsController, ComparisonsController],
  providers: [ReportBuilder, ComparisonBuilder],
})
export class ReporterModule {}
