import type { ProgressUpdate } from '@assay/contracts';
import { applyProgress, enterStage, formatDuration, LINE_WIDTH, newProgress, progressLine, quietSeconds } from './progress-view';

const update = (promptsDone: number, more: Partial<ProgressUpdate> = {}): ProgressUpdate => ({
  identity: 'abcd1234_dev',
  attempt: 1,
  phase: 'full',
  source: 'worker-1',
  promptsDone,
  retries: 0,
  inferenceFailures: 0,
  parseFailures: 0,
  ...more,
});

describe('progress fold', () => {
  it('given committed batches, counts their prompts', () => {
    let p = newProgress('full', 0, 24);
    p = applyProgress(p, update(12), 1000);
    p = applyProgress(p, update(6, { inferenceFailures: 1, retries: 2 }), 2000);
    expect(p).toMatchObject({ done: 18, inferenceFailures: 1, retries: 2, lastProgressAtMs: 2000, lastReport: { source: 'worker-1', atMs: 2000 } });
  });

  it('given more prompts reported than planned (a batch counted twice after an outage), never passes the total', () => {
    let p = newProgress('full', 0, 576);
    for (let i = 0; i < 72; i++) p = applyProgress(p, update(12, { inferenceFailures: 12 }), i);
    expect(p.done).toBe(576);
    expect(p.inferenceFailures).toBe(576);
    expect(progressLine(p, 100_000)).toMatch(/^\[full\] 576\/576 prompts in /);
  });

  it('given an attach to a run with 300 of 576 prompts committed, starts from 300 and rates only what it sees done', () => {
    let p = newProgress('full', 0, 576, 300);
    expect(p.done).toBe(300);
    p = applyProgress(p, update(12), 4000);
    expect(progressLine(p, 4000)).toMatch(/^\[full\] 312\/576 \(54\.2%\), 3\.0\/s, /);
  });

  it('given an attach after the last prompt was committed, shows the evaluation stage, not a rate', () => {
    const p = newProgress('full', 0, 24, 24);
    expect(p.stage).toBe('evaluation');
    expect(progressLine(p, 5000)).toBe('[full] 24/24 prompts in 0s, evaluating 5s');
  });

  it('given the last prompt done, then the evaluation completed, shows inference time and then the report stage', () => {
    let p = applyProgress(newProgress('full', 0, 24), update(24), 90_000);
    expect(progressLine(p, 95_000)).toBe('[full] 24/24 prompts in 1m30s, evaluating 5s');
    p = enterStage(p, 'report', 96_000);
    expect(progressLine(p, 99_000)).toBe('[full] 24/24 prompts in 1m30s, writing the report 3s');
  });

  it('given a message with the progress, keeps it for the stall report', () => {
    const p = applyProgress(newProgress('full', 0, 24), update(0, { message: 'the model server stopped answering' }), 7000);
    expect(p.lastMessage).toEqual({ source: 'worker-1', text: 'the model server stopped answering', atMs: 7000 });
    expect(p.lastProgressAtMs).toBe(0); // a message is not progress
  });
});

describe('progress line', () => {
  it('given 50 of 200 prompts after 10 s, shows rate 5/s and ETA 30s', () => {
    const p = { ...newProgress('full', 0, 200), done: 50, parseFailures: 2, retries: 1, lastProgressAtMs: 10_000 };
    expect(progressLine(p, 10_000)).toBe('[full] 50/200 (25.0%), 5.0/s, elapsed 10s, ETA 30s, parse failures 2, retries 1');
  });

  it('given no total or no progress yet, says so instead of inventing an ETA', () => {
    expect(progressLine(newProgress('smoke', 0), 1000)).toBe('[smoke] 0/?, 0.0/s, elapsed 1s, ETA ?');
  });

  it('given no progress for the stall threshold, says how long instead of an ETA (never "ETA 0s" forever)', () => {
    const p = applyProgress(newProgress('full', 0, 200), update(100), 10_000);
    expect(quietSeconds(p, 75_000)).toBe(65);
    expect(progressLine(p, 75_000, 60)).toBe('[full] 100/200 (50.0%), 1.3/s, elapsed 1m15s, no progress for 1m05s');
  });

  it('given huge numbers and every counter, still fits 80 columns', () => {
    const p = { ...newProgress('smoke', 0, 4_240_800), done: 1_234_567, inferenceFailures: 123_456, parseFailures: 654_321, retries: 9_876_543, lastProgressAtMs: 36_000_000 };
    const line = progressLine(p, 36_000_000);
    expect(line.length).toBeLessThanOrEqual(LINE_WIDTH);
    expect(line).toMatch(/^\[smoke\] 1234567\/4240800 \(29\.1%\), 34\.3\/s, 10h00m, ETA 24h21m/);
    const after = enterStage({ ...p, done: 4_240_800 }, 'report', 0);
    expect(progressLine(after, 40_000_000).length).toBeLessThanOrEqual(LINE_WIDTH);
  });

  it('formats minutes and hours', () => {
    expect(formatDuration(125)).toBe('2m05s');
    expect(formatDuration(3 * 3600 + 20 * 60)).toBe('3h20m');
  });
});
