import { runFailureOnGiveUp } from '@assay/experiments';
import { startService } from '@assay/messaging/nest';
import { PlannerModule } from './planner.module';

startService({ service: 'planner', onGiveUp: runFailureOnGiveUp, module: PlannerModule, concurrency: 8 });
