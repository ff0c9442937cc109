import { randomBytes } from 'node:crypto';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/**
 * Swaps a freshly written run directory in place of the old one:
 *   1. rename finalDir -> a unique sibling "<final>.old-<random>" (skipped if finalDir is absent);
 *   2. rename tmpDir -> finalDir (if this fails, step 1 is undone);
 *   3. move each `keep` subfolder (e.g. 'logs', still being appended to by services) from the old
 *      directory into the new one; the kept one wins over a same-named entry of the new tree;
 *   4. delete the old directory, in the background: the returned promise resolves once the new
 *      tree is in place, and `oldRemoved` settles when the old one is gone. Deleting a full-size
 *      tree is ~35k unlinks (1 to 10 s on the bench machine's disk), which a replay's caller need
 *      not wait for. The caller must await or handle `oldRemoved` (a failure is a rejection there).
 * Readers see either the old or the new tree, never a half-written one; only between steps 1 and 2
 * is finalDir briefly absent (Node has no atomic exchange). tmpDir must be on the same filesystem
 * as finalDir (a sibling is best): rename cannot cross filesystems. Open file handles inside a
 * kept folder (a logger's) stay valid, since renames move the inode, not the data.
 */
export interface Replaced {
  /** Settles once the previous tree is deleted (at once when there was none). */
  oldRemoved: Promise<void>;
}

export async function replaceDirectoryAtomically(tmpDir: string, finalDir: string, keep: string[] = []): Promise<Replaced> {
  for (const k of keep) {
    if (k === '' || k === '.' || k === '..' || k.includes('/') || k.includes('\\')) {
      throw new Error(`keep entries must be plain subfolder names, got ${JSON.stringify(k)}`);
    }
  }
  if (!(await exists(tmpDir))) throw new Error(`replaceDirectoryAtomically: ${tmpDir} does not exist`);
  await mkdir(dirname(finalDir), { recursive: true });

  const hadOld = await exists(finalDir);
  // Random, not clock-based: this name never reaches the tree, it only has to be unique.
  const aside = join(dirname(finalDir), `${basename(finalDir)}.old-${randomBytes(6).toString('hex')}`);
  if (hadOld) await rename(finalDir, aside);
  try {
    await rename(tmpDir, finalDir);
  } catch (error) {
    if (hadOld) await rename(aside, finalDir);
    throw error;
  }
  if (!hadOld) return { oldRemoved: Promise.resolve() };

  for (const k of keep) {
    const from = join(aside, k);
    if (!(await exists(from))) continue;
    const to = join(finalDir, k);
    await rm(to, { recursive: true, force: true });
    await rename(from, to);
  }
  return { oldRemoved: rm(aside, { recursive: true, force: true }) };
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw error;
  }
}
