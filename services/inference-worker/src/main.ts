import { runFailureOnGiveUp } from '@assay/experiments';
import { startService } from '@assay/messaging/nest';
import { InferenceWorkerModule } from './inference-worker.module';

// Batches (entities) a worker process holds at once: the consumer's concurrency, and it takes no
// more than that from the queue (others stay there for other workers). How many of them warm up or
// fan out at a time is the EntityPipeline's call, from model.concurrency and the server's queue;
// held ones wait their turn with their message kept alive by heartbeats. 12 covers the entities a
// lone worker keeps warming; holding more (16, 24) left four workers' last entities on one of them
// and cost up to a quarter of their throughput (bench, full size).
const batches = Number(process.env.ASSAY_WORKER_BATCHES ?? 12);
if (!Number.isInteger(batches) || batches < 1) {
  console.error(`ASSAY_WORKER_BATCHES must be a positive integer, got '${process.env.ASSAY_WORKER_BATCHES}'`);
  process.exit(1);
}
startService({ service: 'inference-worker', onGiveUp: runFailureOnGiveUp, module: InferenceWorkerModule, concurrency: batches });
