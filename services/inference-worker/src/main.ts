import { startService } from '@assay/messaging/nest';
import { InferenceWorkerModule } from './inference-worker.module';

// Batches (entities) in flight per worker process; prompts in flight are bounded by model.concurrency.
const batches = Number(process.env.ASSAY_WORKER_BATCHES ?? 4);
if (!Number.isInteger(batches) || batches < 1) {
  console.error(`ASSAY_WORKER_BATCHES must be a positive integer, got '${process.env.ASSAY_WORKER_BATCHES}'`);
  process.exit(1);
}
startService({ service: 'inference-worker', module: InferenceWorkerModule, concurrency: batches });
