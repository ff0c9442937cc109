import { runFailureOnGiveUp } from '@assay/experiments';
import { startService } from '@assay/messaging/nest';
import { EvaluatorModule } from './evaluator.module';

startService({ service: 'evaluator', onGiveUp: runFailureOnGiveUp, module: EvaluatorModule, concurrency: 4 });
