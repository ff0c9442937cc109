import type { AssayEvent, FailureStage } from '@assay/contracts';

/**
 * The stage at which a run fails when a service gives up on one of its messages (a dead letter
 * after every redelivery failed), or null when giving up on that message does not stop a run:
 * the planner records its own failures, and the experiment.completed/failed consumers only keep
 * projections (registry.json) up to date.
 */
export function stageOfGivenUp(type: AssayEvent['type']): FailureStage | null {
  switch (type) {
    case 'inference.batch.requested':
      return 'inference';
    case 'inference.completed':
    case 'inference.failed':
    // The evaluator runs a baseline's fit on experiment.started: giving up on it fails the attempt.
    case 'experiment.started':
    case 'evaluation.requested':
      return 'evaluation';
    case 'evaluation.smoke.checked':
      return 'smoke';
    case 'evaluation.completed':
      return 'report';
    default:
      return null;
  }
}
