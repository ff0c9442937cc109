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

  it('given a writable run directory, when written, then the line is in logs/<service>.log and on stdout', () => {
    const runDir = mkdtempSync(join(tmpdir(), 'assay-runlog-'));
    new RunLog('planner').write(runDir, 'step 1');
    expect(readFileSync(join(runDir, 'logs', 'planner.log'), 'utf8')).toMatch(/^\[.+\] step 1\n$/);
    expect(out).toEqual(['planner: step 1\n']);
  });

  it('given a run directory that cannot be written, when written twice, then the lines still go to stdout and the problem is said once, never thrown', () => {
    const root = mkdtempSync(join(tmpdir(), 'assay-runlog-'));
    writeFileSync(join(root, 'file'), 'x');
    const log = new RunLog('planner');
    log.write(join(root, 'file', 'run'), 'one');
    log.write(join(root, 'file', 'run'), 'two');
    expect(out[0]).toBe('planner: one\n');
    expect(out[1]).toMatch(/^planner: cannot write the run log .*file\/run\/logs\/planner\.log \(ENOTDIR: not a directory, mkdir .*\); its lines go to this output only\n$/);
    expect(out.slice(2)).toEqual(['planner: two\n']);
  });
});
