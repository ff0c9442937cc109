import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';

/** sha256 over every file's relative path and content hash, in path order: replay must reproduce it. */
export async function hashTree(dir: string, files: string[]): Promise<string> {
  const outer = createHash('sha256');
  for (const file of [...files].sort()) {
    const inner = createHash('sha256').update(await readFile(join(dir, file))).digest('hex');
    outer.update(`${file}\0${inner}\n`);
  }
  return outer.digest('hex');
}
