import { Module } from '@nestjs/common';
import { EvaluationSmokeCheckedConsumer } from './evaluation-smoke-checked.consumer';
import { ExperimentRequestedConsumer } from './experiment-requested.consumer';
import { InferenceAnsweredConsumer } from './inference-answered.consumer';
import { PlanCache } from './plan-cache';
import { PlanWriter } from './plan-writer';

@Module({ controllers: [ExperimentRequestedConsumer, EvaluationSmokeCheckedConsumer, InferenceAnsweredConsumer], providers: [PlanWriter, { provide: PlanCache, useValue: new PlanCache() }] })
export class PlannerModule {}
