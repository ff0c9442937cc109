import { Module } from '@nestjs/common';
import { EvaluationSmokeCheckedConsumer } from './evaluation-smoke-checked.consumer';
import { ExperimentRequestedConsumer } from './experiment-requested.consumer';
import { PlanWriter } from './plan-writer';

@Module({ controllers: [ExperimentRequestedConsumer, EvaluationSmokeCheckedConsumer], providers: [PlanWriter] })
export class PlannerModule {}
