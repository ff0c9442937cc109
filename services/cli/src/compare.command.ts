import { resolveIdentity } from './identity-prefix';
import { CliError, openStore } from './nats-session';
import { call } from './replay.command';

interface CompareResult {
  key: string;
  dir: string;
  files: string[];
  paired: boolean;
  pairs: { baseline: string; candidate: string; delta: number; ci: { low: number; high: number } | null; p: number; pHolm: number }[];
}

/**
 * `assay compare A B [C ...]`: resolves identity prefixes against the log, then asks the reporter
 * (the only writer of output directories) to write the comparison; prints a line per pair on
 * stderr and the comparison directory last on stdout. The first run is the baseline of every pair
 * it is in; refusals (a run not completed, other data or split, other items) come back as errors.
 */
export async function compareCommand(prefixes: string[], opts: { allowUnpaired: boolean }): Promise<number> {
  if (prefixes.length < 2) throw new CliError(`compare needs at least two identities, got ${prefixes.length}`, 2);
  const store = await openStore();
  const identities: string[] = [];
  try {
    for (const prefix of prefixes) identities.push(await resolveIdentity(prefix, store));
  } finally {
    await store.close();
  }
  const result = await call<CompareResult>('POST', '/api/comparisons', `comparison of ${identities.join(', ')}`, { identities, allowUnpaired: opts.allowUnpaired });
  if (!result.paired) process.stderr.write('NOT PAIRED: the runs differ in data or split (see the README)\n');
  for (const p of result.pairs) {
    const ci = p.ci ? ` [${p.ci.low.toFixed(4)}, ${p.ci.high.toFixed(4)}]` : '';
    process.stderr.write(`${p.candidate} - ${p.baseline}: normalized_mae ${p.delta >= 0 ? '+' : ''}${p.delta.toFixed(4)}${ci}, p ${p.p.toFixed(4)}, Holm ${p.pHolm.toFixed(4)}\n`);
  }
  process.stdout.write(`${result.dir}\n`);
  return 0;
}
