import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { compareCodeUnits } from '@assay/contracts';

/**
 * The tree hash: sha256 over every file's relative path and content hash, in path order (code
 * units). Replay must reproduce it. The writer computes it from the bytes it writes (TreeHasher);
 * hashTree re-reads a tree on disk to check one.
 */
export class TreeHasher {
  private readonly contentHashes = new Map<string, string>();

  /** Records one file's sha256 (hex); a path may be recorded once only. */
  add(relPath: string, sha256Hex: string): void {
    if (this.contentHashes.has(relPath)) throw new Error(`tree hash: ${relPath} was recorded twice`);
    this.contentHashes.set(relPath, sha256Hex);
  }

  get files(): string[] {
    return [...this.contentHashes.keys()].sort(compareCodeUnits);
  }

  digest(): string {
    const outer = createHash('sha256');
    for (const file of this.files) outer.update(`${file}\0${this.contentHashes.get(file)}\n`);
    return outer.digest('hex');
  }
}

/** The tree hash of `files` (relative paths) as they are on disk under `dir`. */
export async function hashTree(dir: string, files: string[]): Promise<string> {
  const hasher = new TreeHasher();
  for (const file of files) hasher.add(file, createHash('sha256').update(await readFile(join(dir, file))).digest('hex'));
  return hasher.digest();
}
