import { Module } from '@nestjs/common';
import { EvaluationCompletedConsumer } from './evaluation-completed.consumer';
import { ExperimentFinishedConsumer } from './experiment-finished.consumer';
import { ExperimentsController } from './http/experiments.controller';
import { HealthController } from './http/health.controller';
import { LiveProgressHub } from './http/live-progress';
import { ViewerController } from './http/viewer.controller';
import { ReportBuilder } from './report-builder';

@Module({
  controllers: [EvaluationCompletedConsumer, ExperimentFinishedConsumer, HealthController, ExperimentsController, ViewerController],
  providers: [ReportBuilder, LiveProgressHub],
})
export class ReporterModule {}
