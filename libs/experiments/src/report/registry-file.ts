import { mkdir, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { prettyJson } from '@assay/data';
import { parseRunDir, registryFileFor } from './run-dir';
import type { RegistryEntry } from '../request/registry';

/**
 * The experiments one registry.json lists: those of its method whose run directory is under its
 * output root. Several output roots can share one database (one event log); each folder lists
 * only the runs it holds.
 */
export function registryEntriesFor(outputRoot: string, method: string, entries: readonly RegistryEntry[]): RegistryEntry[] {
  return entries.filter((e) => e.method === method && parseRunDir(e.runDir).outputRoot === outputRoot);
}

/** outputs/<method>/registry.json mirrors the projection; written whole and renamed into place. */
export async function writeRegistryFile(outputRoot: string, method: string, entries: RegistryEntry[]): Promise<string> {
  const file = registryFileFor(outputRoot, method);
  await mkdir(dirname(file), { recursive: true });
  const body = prettyJson({ method, experiments: registryEntriesFor(outputRoot, method, entries) });
  const tmp = `${file}.${process.pid}.tmp`;
  await writeFile(tmp, body);
  await rename(tmp, file);
  return file;
}
