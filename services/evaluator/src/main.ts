import { startService } from '@assay/messaging/nest';
import { EvaluatorModule } from './evaluator.module';

startService({ service: 'evaluator', module: EvaluatorModule, concurrency: 4 });
