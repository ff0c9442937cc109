import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RunLog } from './run-log';

describe('RunLog', () => {
  let out: string[];
  let spy: jest.SpyInstance;
  beforeEach(() => {
    out = [];
    spy = jest.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => (out.push(String(chunk)), true));
  });
  afterEach(() => spy.mockRestore());

  it('given a writable run directory, when written, then the line is in logs/<service>.attempt-<N>.log and on stdout', () => {
    const runDir = mkdtempSync(join(tmpdir(), 'assay-runlog-'));
    new RunLog('planner').write(runDir, 1, 'step 1');
    expect(readFileSync(join(runDir, 'logs', 'planner.attempt-1.log'), 'utf8')).toMatch(/^\[.+\] step 1\n$/);
    expect(out).toEqual(['planner: step 1\n']);
  });

  it('given a second attempt in the same run directory (--force), when written, then its lines go to their own file and the first attempt’s stay as they were', () => {
    const runDir = mkdtempSync(join(tmpdir(), 'assay-runlog-'));
    const log = new RunLog('planner');
    log.write(runDir, 1, 'first attempt');
    log.write(runDir, 2, 'second attempt');
    expect(readFileSync(join(runDir, 'logs', 'planner.attempt-1.log'), 'utf8')).toMatch(/^\[.+\] first attempt\n$/);
    expect(readFileSync(join(runDir, 'logs', 'planner.attempt-2.log'), 'utf8')).toMatch(/^\[.+\] second attempt\n$/);
  });

  it('given a run directory that cannot be written, when written twice, then the lines still go to stdout and the problem is said once, never thrown', () => {
    const root = mkdtempSync(join(tmpdir(), 'assay-runlog-'));
    writeFileSync(join(root, 'file'), 'x');
    const log = new RunLog('planner');
    log.write(join(root, 'file', 'run'), 1, 'one');
    log.write(join(root, 'file', 'run'), 1, 'two');
    expect(out[0]).toBe('planner: one\n');
    expect(out[1]).toMatch(/^planner: cannot write the run log .*file\/run\/logs\/planner\.attempt-1\.log \(ENOTDIR: not a directory, mkdir .*\); its lines go to this output only\n$/);
    expect(out.slice(2)).toEqual(['planner: two\n']);
  });
});
