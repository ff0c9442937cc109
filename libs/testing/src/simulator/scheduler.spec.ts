import { Scheduler, type Job } from './scheduler';

function job(model: string, log: string[], name: string, uncachedTokens: number, completionTokens: number): Job {
  return {
    model,
    onSchedule: () => (log.push(`${name}:start`), { uncachedTokens, completionTokens }),
    onPrefilled: () => log.push(`${name}:prefilled`),
    onFinished: () => log.push(`${name}:done`),
  };
}

describe('Scheduler', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  it('given maxNumSeqs 2, when 4 jobs arrive, then two run, two wait, and they start FIFO as slots free', () => {
    const log: string[] = [];
    const changes: Array<[number, number]> = [];
    const s = new Scheduler({ prefillMsPerToken: 1, decodeMsPerToken: 10, maxNumSeqs: 2 }, { onChange: (r, w) => changes.push([r, w]) });
    for (const name of ['a', 'b', 'c', 'd']) s.submit(job('m', log, name, 10, 1));
    expect([s.running, s.waiting]).toEqual([2, 2]);
    expect(s.countsFor('m')).toEqual({ running: 2, waiting: 2 });
    jest.advanceTimersByTime(10);
    expect(log).toEqual(['a:start', 'b:start', 'a:prefilled', 'b:prefilled']);
    jest.advanceTimersByTime(10);
    expect(log.slice(4)).toEqual(['c:start', 'a:done', 'd:start', 'b:done']); // the slot frees, then the answer goes out
    jest.advanceTimersByTime(20);
    expect(log.filter((l) => l.endsWith(':done'))).toEqual(['a:done', 'b:done', 'c:done', 'd:done']);
    expect([s.running, s.waiting]).toEqual([0, 0]);
    expect(Math.max(...changes.map(([, w]) => w))).toBe(2);
  });

  it('given a waiting and a running job, when their clients leave, then the queue skips one and the slot frees', () => {
    const log: string[] = [];
    const s = new Scheduler({ prefillMsPerToken: 0, decodeMsPerToken: 10, maxNumSeqs: 1 }, { onChange: () => undefined });
    const a = s.submit(job('m', log, 'a', 0, 1));
    const b = s.submit(job('m', log, 'b', 0, 1));
    s.submit(job('m', log, 'c', 0, 1));
    b.abort();
    expect(s.waiting).toBe(1);
    a.abort();
    expect(log).toEqual(['a:start', 'a:prefilled', 'c:start', 'c:prefilled']);
    jest.advanceTimersByTime(10);
    expect(log.at(-1)).toBe('c:done');
  });

  it('given zero latency, when a job is submitted, then it finishes synchronously', () => {
    const log: string[] = [];
    new Scheduler({ prefillMsPerToken: 0, decodeMsPerToken: 0, maxNumSeqs: 1 }, { onChange: () => undefined }).submit(job('m', log, 'a', 100, 5));
    expect(log).toEqual(['a:start', 'a:prefilled', 'a:done']);
  });

  it('given an invalid latency model, when constructed, then the error names the field', () => {
    expect(() => new Scheduler({ prefillMsPerToken: -1, decodeMsPerToken: 0, maxNumSeqs: 1 }, { onChange: () => undefined })).toThrow(/prefillMsPerToken/);
    expect(() => new Scheduler({ prefillMsPerToken: 0, decodeMsPerToken: 0, maxNumSeqs: 0 }, { onChange: () => undefined })).toThrow(/maxNumSeqs/);
  });
});
