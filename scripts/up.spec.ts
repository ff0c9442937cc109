import { CommanderError } from 'commander';
import {
  LineSplitter,
  SIMULATOR_MODEL,
  describeExit,
  makePrefix,
  parseUpArgs,
  planProcesses,
  prefixLines,
  prefixWidth,
  stoppedCleanly,
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
