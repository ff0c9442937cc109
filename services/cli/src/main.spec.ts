import { main } from './main';

/** Runs the command line as the `assay` binary would, capturing the exit code and what commander printed. */
function exitOf(args: string[]): { code: number | undefined; out: string } {
  let code: number | undefined;
  let out = '';
  const write = (chunk: string | Uint8Array) => {
    out += String(chunk);
    return true;
  };
  const stdout = jest.spyOn(process.stdout, 'write').mockImplementation(write);
  const stderr = jest.spyOn(process.stderr, 'write').mockImplementation(write);
  try {
    main(['node', 'assay', ...args], (c) => (code ??= c));
  } finally {
    stdout.mockRestore();
    stderr.mockRestore();
  }
  return { code, out };
}

describe('assay command line', () => {
  it.each([
    ['an unknown option', ['status', '--nope']],
    ['a missing argument', ['reevaluate']],
    ['a bad option value', ['run', 'x.yaml', '--answer-timeout', 'soon']],
    ['an unknown command', ['rnu']],
    ['no command at all', []],
  ])('given %s, exits 2 (a usage error), not 1 (a failed run)', (_what, args) => {
    expect(exitOf(args).code).toBe(2);
  });

  it('given --version, prints the version and the code version and exits 0', () => {
    const { code, out } = exitOf(['--version']);
    expect(code).toBe(0);
    expect(out).toMatch(/^assay \d+\.\d+\.\d+ \(code [A-Za-z0-9._-]+\)\n$/);
  });

  it('given --help, exits 0', () => {
    expect(exitOf(['run', '--help']).code).toBe(0);
  });

  it('given --json and a failure before any outcome (no database), still prints one JSON document on stdout', async () => {
    const saved = process.env.DATABASE_URL;
    process.env.DATABASE_URL = 'postgres://postgres@127.0.0.1:1/nowhere';
    let stdout = '';
    const out = jest.spyOn(process.stdout, 'write').mockImplementation((c: string | Uint8Array) => ((stdout += String(c)), true));
    const err = jest.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      const code = await new Promise<number>((resolve) => main(['node', 'assay', 'status', '--json'], resolve));
      expect(code).toBe(3);
      expect(JSON.parse(stdout)).toMatchObject({ status: 'error', exitCode: 3 });
    } finally {
      out.mockRestore();
      err.mockRestore();
      if (saved === undefined) delete process.env.DATABASE_URL;
      else process.env.DATABASE_URL = saved;
    }
  });
});
