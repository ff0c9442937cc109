import type { ProgressUpdate } from '@assay/contracts';
import { ProgressReporter } from './progress-reporter';
import type { JetStreamPublisher } from './publisher';

describe('progress reporter', () => {
  it('given counts and a message for one run, sends them together once, and the message only once', () => {
    const sent: Array<{ subject: string; update: ProgressUpdate }> = [];
    const publisher = { publishCore: (subject: string, update: ProgressUpdate) => void sent.push({ subject, update }) } as unknown as JetStreamPublisher;
    const reporter = new ProgressReporter(publisher, 'worker-1', 60_000);
    const key = { identity: 'abcd1234_dev', attempt: 1, phase: 'full' as const };
    reporter.add(key, { promptsDone: 12, inferenceFailures: 1 });
    reporter.say(key, 'the model server stopped answering; retrying');
    reporter.add(key, { retries: 2 });
    reporter.flush();
    reporter.add(key, { promptsDone: 6 });
    reporter.close();
    expect(sent.map((s) => s.update)).toEqual([
      { ...key, source: 'worker-1', promptsDone: 12, retries: 2, inferenceFailures: 1, parseFailures: 0, message: 'the model server stopped answering; retrying' },
      { ...key, source: 'worker-1', promptsDone: 6, retries: 0, inferenceFailures: 0, parseFailures: 0 },
    ]);
    expect(sent[0].subject).toBe('progress.abcd1234_dev');
  });
});
