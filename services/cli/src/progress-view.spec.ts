import { formatDuration, newProgress, progressLine } from './progress-view';

describe('progress line', () => {
  it('given 50 of 200 prompts after 10 s, shows rate 5/s and ETA 30s', () => {
    const p = { ...newProgress('full', 0, 200), done: 50, parseFailures: 2, retries: 1 };
    expect(progressLine(p, 10_000)).toBe('[full] 50/200 prompts (25.0%), 5.0/s, elapsed 10s, ETA 30s, parse failures 2, inference failures 0, retries 1');
  });

  it('given no total or no progress yet, says so instead of inventing an ETA', () => {
    expect(progressLine(newProgress('smoke', 0), 1000)).toBe('[smoke] 0/? prompts, 0.0/s, elapsed 1s, ETA ?, parse failures 0, inference failures 0, retries 0');
  });

  it('formats minutes and hours', () => {
    expect(formatDuration(125)).toBe('2m05s');
    expect(formatDuration(3 * 3600 + 20 * 60)).toBe('3h20m');
  });
});
