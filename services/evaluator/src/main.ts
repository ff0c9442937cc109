import { runFailureOnGiveUp } from '@assay/experiments';
import { startService } from '@assay/messaging/nest';
import { EvaluatorModule } from './evaluator.module';
import { limitHeapGrowth } from './heap';

limitHeapGrowth();
startService({ service: 'evaluator', onGiveUp: runFailureOnGiveUp, module: EvaluatorModule, concurrency: 4 });
