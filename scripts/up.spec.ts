import { CommanderError } from 'commander';
import {
  LineSplitter,
  RESTART_POLICY,
  SIMULATOR_MODEL,
  decideRestart,
  describeExit,
  formatSeconds,
  makePrefix,
  parseUpArgs,
  planProcesses,
  prefixLines,
  prefixWidth,
  stoppedCleanly,
  type RestartPolicy,
  type UpOptions,
} from './up';

const silent = { writeErr: () => undefined, writeOut: () => undefined };
const parse = (...argv: string[]): UpOptions => parseUpArgs(argv, silent);

describe('parseUpArgs', () => {
  it('defaults to one worker and no simulator', () => {
    expect(parse()).toEqual({ workers: 1, simulator: false, simulatorPort: 8011, simulatorLatency: 'zero' });
  });

  it('reads every flag', () => {
    expect(parse('--workers', '4', '--simulator', '--simulator-port', '9000', '--simulator-latency', 'gpu')).toEqual({
      workers: 4,
      simulator: true,
      simulatorPort: 9000,
      simulatorLatency: 'gpu',
    });
    expect(parse('--workers=2').workers).toBe(2);
  });

  it.each([
    [['--workers', '0']],
    [['--workers', '1.5']],
    [['--workers', 'two']],
    [['--simulator', '--simulator-port', '70000']],
    [['--simulator', '--simulator-latency', 'slow']],
    [['--bogus']],
    [['extra']],
  ])('rejects %j', (argv) => {
    expect(() => parse(...argv)).toThrow(CommanderError);
  });

  it('rejects simulator flags without --simulator', () => {
    expect(() => parse('--simulator-port', '9000')).toThrow(/only apply with --simulator/);
    expect(() => parse('--simulator-latency', 'gpu')).toThrow(/only apply with --simulator/);
  });
});

describe('planProcesses', () => {
  it('plans the four services in order, one worker by default', () => {
    const plan = planProcesses(parse());
    expect(plan.map((p) => p.name)).toEqual(['planner', 'worker-1', 'evaluator', 'reporter']);
    expect(plan.map((p) => p.entry)).toEqual([
      'services/planner/src/main.js',
      'services/inference-worker/src/main.js',
      'services/evaluator/src/main.js',
      'services/reporter/src/main.js',
    ]);
    expect(plan.every((p) => p.args.length === 0)).toBe(true);
  });

  it('gives each of N workers its own ASSAY_WORKER_ID', () => {
    const workers = planProcesses(parse('--workers', '4')).filter((p) => p.entry.includes('inference-worker'));
    expect(workers.map((w) => [w.name, w.env])).toEqual([
      ['worker-1', { ASSAY_WORKER_ID: 'worker-1' }],
      ['worker-2', { ASSAY_WORKER_ID: 'worker-2' }],
      ['worker-3', { ASSAY_WORKER_ID: 'worker-3' }],
      ['worker-4', { ASSAY_WORKER_ID: 'worker-4' }],
    ]);
  });

  it('starts the simulator first when asked, with port, model and latency', () => {
    const [first, ...rest] = planProcesses(parse('--simulator', '--simulator-port', '8123', '--simulator-latency', 'gpu'));
    expect(first).toEqual({
      name: 'simulator',
      entry: 'libs/testing/src/simulator/main.js',
      args: ['--port', '8123', '--model', SIMULATOR_MODEL, '--latency', 'gpu'],
      env: {},
    });
    expect(rest).toHaveLength(4);
  });

  it('gives every process a unique name', () => {
    const names = planProcesses(parse('--workers', '12', '--simulator')).map((p) => p.name);
    expect(new Set(names).size).toBe(names.length);
  });
});

describe('LineSplitter', () => {
  it('keeps a partial line until its newline arrives', () => {
    const s = new LineSplitter();
    expect(s.push('hel')).toEqual([]);
    expect(s.push('lo\nwor')).toEqual(['hello']);
    expect(s.push('ld\n\nnext')).toEqual(['world', '']);
    expect(s.end()).toEqual(['next']);
    expect(s.end()).toEqual([]);
  });

  it('returns nothing at the end when the stream ended on a newline', () => {
    const s = new LineSplitter();
    expect(s.push('a\nb\n')).toEqual(['a', 'b']);
    expect(s.end()).toEqual([]);
  });

  it('strips CRLF even when split between chunks', () => {
    const s = new LineSplitter();
    expect(s.push('a\r')).toEqual([]);
    expect(s.push('\nb\r\n')).toEqual(['a', 'b']);
  });

  it('reassembles a multi-byte character split across chunks', () => {
    const bytes = Buffer.from('日本\n');
    const s = new LineSplitter();
    const lines = [...bytes].flatMap((byte) => s.push(Buffer.from([byte])));
    expect(lines).toEqual(['日本']);
  });

  it('flushes an over-long line in pieces to bound memory', () => {
    const s = new LineSplitter(4);
    expect(s.push('abcdefghij')).toEqual(['abcd', 'efgh']);
    expect(s.push('\n')).toEqual(['ij']);
  });
});

describe('prefixes', () => {
  it('pads names to a common width', () => {
    const width = prefixWidth(['up', 'planner', 'evaluator']);
    expect(makePrefix('planner', width)).toBe('planner   | ');
    expect(makePrefix('evaluator', width)).toBe('evaluator | ');
  });

  it('colours only the name', () => {
    expect(makePrefix('up', 3, 36)).toBe('\x1b[36mup \x1b[0m | ');
  });

  it('prefixes and terminates every line', () => {
    expect(prefixLines('x | ', ['a', '', 'b'])).toBe('x | a\nx | \nx | b\n');
    expect(prefixLines('x | ', [])).toBe('');
  });
});

describe('exit classification', () => {
  it('counts exit 0 and death by the stop signal as clean', () => {
    expect(stoppedCleanly(0, null)).toBe(true);
    expect(stoppedCleanly(null, 'SIGTERM')).toBe(true);
    expect(stoppedCleanly(1, null)).toBe(false);
    expect(stoppedCleanly(null, 'SIGKILL')).toBe(false);
  });

  it('describes codes and signals', () => {
    expect(describeExit(3, null)).toBe('exit code 3');
    expect(describeExit(null, 'SIGKILL')).toBe('signal SIGKILL');
  });
});

describe('decideRestart', () => {
  const policy: RestartPolicy = { baseDelayMs: 1000, maxDelayMs: 8000, maxCrashes: 4, windowMs: 60_000 };
  const noJitter = () => 1;

  it('given a first crash, when deciding, then restarts after the base delay', () => {
    expect(decideRestart([], 100_000, policy, noJitter)).toEqual({ action: 'restart', delayMs: 1000, crashesInWindow: 1, recentCrashes: [100_000] });
  });

  it('given earlier crashes within the window, when deciding, then doubles the delay per crash up to the cap', () => {
    expect(decideRestart([90_000], 100_000, policy, noJitter)).toMatchObject({ action: 'restart', delayMs: 2000, crashesInWindow: 2 });
    expect(decideRestart([80_000, 90_000], 100_000, policy, noJitter)).toMatchObject({ action: 'restart', delayMs: 4000, crashesInWindow: 3 });
    const capped = { ...policy, maxCrashes: 10, maxDelayMs: 3000 };
    expect(decideRestart([70_000, 80_000, 90_000], 100_000, capped, noJitter)).toMatchObject({ action: 'restart', delayMs: 3000 });
  });

  it('given jitter, when deciding, then the delay stays between half the step and the step', () => {
    expect(decideRestart([90_000], 100_000, policy, () => 0)).toMatchObject({ delayMs: 1000 });
    expect(decideRestart([90_000], 100_000, policy, () => 0.5)).toMatchObject({ delayMs: 1500 });
  });

  it('given maxCrashes within the window, when deciding, then gives up', () => {
    expect(decideRestart([70_000, 80_000, 90_000], 100_000, policy, noJitter)).toEqual({
      action: 'give-up',
      crashesInWindow: 4,
      recentCrashes: [70_000, 80_000, 90_000, 100_000],
    });
  });

  it('given old crashes outside the window, when deciding, then forgets them: the backoff starts over', () => {
    const decision = decideRestart([10_000, 20_000, 30_000], 100_000, policy, noJitter);
    expect(decision).toEqual({ action: 'restart', delayMs: 1000, crashesInWindow: 1, recentCrashes: [100_000] });
  });

  it('gives up on a crash loop within about 15 s with the default policy', () => {
    let crashes: number[] = [];
    let now = 0;
    for (;;) {
      const decision = decideRestart(crashes, now, RESTART_POLICY, noJitter);
      crashes = decision.recentCrashes;
      if (decision.action === 'give-up') break;
      now += decision.delayMs;
    }
    expect(crashes).toHaveLength(RESTART_POLICY.maxCrashes);
    expect(now).toBe(15_000);
  });
});

describe('formatSeconds', () => {
  it('shows tenths below 10 s and whole seconds above', () => {
    expect(formatSeconds(500)).toBe('0.5 s');
    expect(formatSeconds(2000)).toBe('2 s');
    expect(formatSeconds(1234)).toBe('1.2 s');
    expect(formatSeconds(60_000)).toBe('60 s');
  });
});
