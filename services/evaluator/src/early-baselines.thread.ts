import { parentPort, workerData } from 'node:worker_threads';
import { errorMessage } from '@assay/contracts';
import { EventStore } from '@assay/event-store';
import { scoreBaselinesFromRequests, type EarlyBaselines } from '@assay/experiments';
import type { ScoredBaselines } from '@assay/evaluation';

/**
 * The thread that scores a run's baselines ahead of its evaluation (EvaluationAssembler.scoreEarly):
 * seconds of CPU that, on the evaluator's event loop, ran while one of its scoring transactions
 * held the run's stream lock, so every worker's commit waited for them (a 9 s stall at the
 * bench's size, growing with the data). Its own connection to the event log: it reads the batch
 * requests itself.
 */
export type EarlyBaselinesReply = { scored: ScoredBaselines } | { error: string };

async function main(early: EarlyBaselines): Promise<EarlyBaselinesReply> {
  const store = await EventStore.openExisting({ poolSize: 1 });
  try {
    return { scored: await scoreBaselinesFromRequests(store, early) };
  } finally {
    await store.close();
  }
}

main(workerData as EarlyBaselines).then(
  (reply) => parentPort!.postMessage(reply),
  (error: unknown) => parentPort!.postMessage({ error: errorMessage(error) } satisfies EarlyBaselinesReply),
);
