import { mkdir, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { registryFileFor } from './run-dir';
import type { RegistryEntry } from './registry';

/** outputs/<method>/registry.json mirrors the projection; written whole and renamed into place. */
export async function writeRegistryFile(outputRoot: string, method: string, entries: RegistryEntry[]): Promise<string> {
  const file = registryFileFor(outputRoot, method);
  await mkdir(dirname(file), { recursive: true });
  const mine = entries.filter((e) => e.method === method);
  const body = `${JSON.stringify({ method, experiments: mine }, null, 2)}\n`;
  const tmp = `${file}.${process.pid}.tmp`;
  await writeFile(tmp, body);
  await rename(tmp, file);
  return file;
}
