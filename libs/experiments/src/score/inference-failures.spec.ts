import { decideAfterBatch, firstDistinctErrors, tooManyFailuresMessage, type BatchTally } from './inference-failures';

const tally = (over: Partial<BatchTally>): BatchTally => ({ phase: 'full', batchesScored: 3, plannedBatches: 24, plannedPrompts: 576, failedPrompts: 0, maxFailureShare: 0.05, ...over });

describe('decideAfterBatch', () => {
  it('given a batch that is not the last and few failures, when decided, then the phase goes on', () => {
    expect(decideAfterBatch(tally({ failedPrompts: 28 }))).toEqual({ kind: 'continue' });
  });

  it('given the last batch with failures at the threshold, when decided, then the phase completes (the threshold is inclusive)', () => {
    expect(decideAfterBatch(tally({ batchesScored: 20, plannedBatches: 20, plannedPrompts: 100, failedPrompts: 5 }))).toEqual({ kind: 'phase_complete' });
  });

  it('given failures above threshold x planned prompts after 3 of 24 batches, when decided, then the run fails now, not after the remaining calls', () => {
    expect(decideAfterBatch(tally({ failedPrompts: 29 }))).toEqual({ kind: 'too_many_failures', failed: 29, prompts: 576, share: 29 / 576, threshold: 0.05 });
  });

  it('given the last batch pushing the failures over the threshold, when decided, then the run fails instead of completing', () => {
    expect(decideAfterBatch(tally({ batchesScored: 24, failedPrompts: 30 })).kind).toBe('too_many_failures');
  });

  it('given a threshold of 0, when one call failed, then the run fails; given 1, when every call failed, then it completes', () => {
    expect(decideAfterBatch(tally({ maxFailureShare: 0, failedPrompts: 1 })).kind).toBe('too_many_failures');
    expect(decideAfterBatch(tally({ maxFailureShare: 1, failedPrompts: 576, batchesScored: 24 })).kind).toBe('phase_complete');
  });

  it('given the smoke phase with a failed call, when decided, then the threshold does not apply (the smoke checks judge it)', () => {
    expect(decideAfterBatch(tally({ phase: 'smoke', batchesScored: 1, plannedBatches: 1, plannedPrompts: 4, failedPrompts: 4 }))).toEqual({ kind: 'phase_complete' });
  });
});

describe('the failure message', () => {
  it('given repeated errors, when summarised, then the first distinct ones are named with their counts', () => {
    expect(firstDistinctErrors(['a', 'b', 'a', 'c', 'd'])).toEqual(['a (x2)', 'b', 'c']);
  });

  it('given a verdict, when worded, then it names the count, share, threshold, errors and that a plain run starts again', () => {
    const message = tooManyFailuresMessage({ kind: 'too_many_failures', failed: 29, prompts: 576, share: 29 / 576, threshold: 0.05 }, ['HTTP 503: overloaded', 'HTTP 503: overloaded']);
    expect(message.error).toBe('29 of 576 model calls failed (5.0%), more than model.max_failure_share 0.05 (5.0%) allows; the rest of this attempt\'s calls were dropped');
    expect(message.details[0]).toBe('error: HTTP 503: overloaded (x2)');
    expect(message.details[1]).toMatch(/no --force needed/);
  });
});
