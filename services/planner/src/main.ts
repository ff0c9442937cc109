import { startService } from '@assay/messaging/nest';
import { PlannerModule } from './planner.module';

startService({ service: 'planner', module: PlannerModule, concurrency: 8 });
