import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { outputNotWritable } from '@assay/report';
import type { RegistryEntry } from '../request/registry';
import { registryEntriesFor, writeRegistryFile } from './registry-file';
import { runDirFor } from './run-dir';

function entry(outputRoot: string, method: string, identity: string): RegistryEntry {
  return {
    identity,
    method,
    name: identity,
    status: 'completed',
    attempt: 1,
    runDir: runDirFor(outputRoot, method, identity),
    codeVersion: 'abc1234',
    startedAt: '2025-01-01T00:00:00.000Z',
    finishedAt: '2025-01-01T00:01:00.000Z',
    reevaluatedAt: null,
    cancellation: null,
    summary: {},
    failure: null,
    skippedRequests: 0,
    dataHashes: {},
  };
}

describe('registry.json of one output root', () => {
  const root = mkdtempSync(join(tmpdir(), 'assay-registry-'));
  const a = join(root, 'a');
  const b = join(root, 'b');
  const nested = join(root, 'a', 'deeper');
  const entries = [entry(a, 'llm_zero_shot', 'id_a1'), entry(b, 'llm_zero_shot', 'id_b1'), entry(a, 'knn', 'id_a2'), entry(nested, 'llm_zero_shot', 'id_n1'), entry(a, 'llm_zero_shot', 'id_a3')];

  it('given runs of several output roots sharing one database, when listed for one root and method, then only its own runs', () => {
    expect(registryEntriesFor(a, 'llm_zero_shot', entries).map((e) => e.identity)).toEqual(['id_a1', 'id_a3']);
    expect(registryEntriesFor(b, 'llm_zero_shot', entries).map((e) => e.identity)).toEqual(['id_b1']);
    expect(registryEntriesFor(nested, 'llm_zero_shot', entries).map((e) => e.identity)).toEqual(['id_n1']);
  });

  it('given two output roots, when each registry.json is written, then each lists only the runs under it', async () => {
    await writeRegistryFile(a, 'llm_zero_shot', entries);
    await writeRegistryFile(b, 'llm_zero_shot', entries);
    const listed = (root: string) => (JSON.parse(readFileSync(join(root, 'llm_zero_shot', 'registry.json'), 'utf8')) as { experiments: RegistryEntry[] }).experiments.map((e) => e.identity);
    expect(listed(a)).toEqual(['id_a1', 'id_a3']);
    expect(listed(b)).toEqual(['id_b1']);
  });

  it('given an output root that cannot be written, when registry.json is written, then the error is one the reporter does not retry', async () => {
    const file = join(root, 'plain-file');
    writeFileSync(file, 'x');
    const error = await writeRegistryFile(join(file, 'out'), 'llm_zero_shot', entries).catch((e: unknown) => e);
    expect(outputNotWritable(error, 'registry.json')).toMatch(/^cannot write registry\.json: ENOTDIR: not a directory, mkdir '.*plain-file\/out\/llm_zero_shot'$/);
  });
});
