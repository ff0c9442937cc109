import { randomBytes } from 'node:crypto';
import { mkdir, readdir, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { Worker } from 'node:worker_threads';

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
  /** Where the previous tree sits until oldRemoved settles; null when there was none. */
  oldDir: string | null;
}

export async function replaceDirectoryAtomically(tmpDir: string, finalDir: string, keep: string[] = []): Promise<Replaced> {
  checkKeep(keep);
  if (!(await exists(tmpDir))) throw new Error(`replaceDirectoryAtomically: ${tmpDir} does not exist`);
  await mkdir(dirname(finalDir), { recursive: true });

  const hadOld = await exists(finalDir);
  const aside = siblingOf(finalDir, 'old');
  if (hadOld) await rename(finalDir, aside);
  try {
    await rename(tmpDir, finalDir);
  } catch (error) {
    if (hadOld) await rename(aside, finalDir);
    throw error;
  }
  if (!hadOld) return { oldRemoved: Promise.resolve(), oldDir: null };

  for (const k of keep) {
    const from = join(aside, k);
    if (!(await exists(from))) continue;
    const to = join(finalDir, k);
    await rm(to, { recursive: true, force: true });
    await rename(from, to);
  }
  return { oldRemoved: removeTree(aside), oldDir: aside };
}

/**
 * `rm -r` of a whole run tree (tens of thousands of files) with the synchronous rmSync on a worker
 * thread: fs/promises' rm keeps every entry of a folder in flight at once, measured +220 MB of
 * RSS for a 107k-file tree against +27 MB this way, and the reporter deletes such trees while it
 * serves. Absent: nothing to do.
 */
export function removeTree(path: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(`require('node:fs').rmSync(require('node:worker_threads').workerData, { recursive: true, force: true });`, { eval: true, workerData: path });
    let failed = false;
    worker.on('error', (error) => {
      failed = true;
      reject(error);
    });
    worker.on('exit', (code) => {
      if (failed) return;
      if (code === 0) resolve();
      else reject(new Error(`removing ${path}: the worker thread exited with code ${code}`));
    });
  });
}

function checkKeep(keep: readonly string[]): void {
  for (const k of keep) {
    if (k === '' || k === '.' || k === '..' || k.includes('/') || k.includes('\\')) {
      throw new Error(`keep entries must be plain subfolder names, got ${JSON.stringify(k)}`);
    }
  }
}

export type LeftoverKind = 'old' | 'building';

/**
 * A unique sibling of `finalDir` to write a new tree into (`building`) or to move the current one
 * aside (`old`). Random, not clock-based: the name never reaches the tree, it only has to be unique.
 */
export function siblingOf(finalDir: string, kind: LeftoverKind): string {
  return join(dirname(finalDir), `${basename(finalDir)}.${kind}-${randomBytes(6).toString('hex')}`);
}

/** Whether `name` (an entry of finalDir's parent) is a `building`/`old` sibling of the directory named `base`. */
export function leftoverKind(base: string, name: string): LeftoverKind | null {
  if (!name.startsWith(`${base}.`)) return null;
  const match = /^(old|building)-[0-9a-f]+$/.exec(name.slice(base.length + 1));
  return match ? (match[1] as LeftoverKind) : null;
}

export interface Leftover {
  name: string;
  kind: LeftoverKind;
  /** When the directory was last renamed (its ctime): an `old` sibling's time of being set aside. */
  changedAtMs: number;
}

export type RecoveryStep =
  /** Rename this `old` sibling back to the final name: a kill landed between the two renames. */
  | { action: 'restore'; name: string }
  /** Move the kept subfolders (logs/) of this `old` sibling into the final directory, then delete it. */
  | { action: 'keep-and-remove'; name: string }
  | { action: 'remove'; name: string };

/**
 * What to do with the siblings a killed replaceDirectoryAtomically (or the build before it) left
 * next to a run directory. Where the kill landed decides what is on disk:
 *   - during the write: a partial `building` sibling, the final directory intact -> remove it;
 *   - after step 1, before step 2: no final directory, a complete `old` sibling (the previous
 *     tree, with logs/) and a complete `building` one (the new tree, without logs/) -> restore the
 *     `old` one. It is the tree readers last saw, known complete and consistent, with the live
 *     logs/ already inside; nothing on disk proves a `building` tree was finished (only the order
 *     of the code does), and a report is cheap to rebuild from the log: the build that was killed
 *     runs again (its message was never acknowledged) or a replay redoes it;
 *   - during step 3 or 4: the final directory (the new tree), and an `old` sibling that may still
 *     hold logs/ -> move its logs/ over, then remove it.
 * With no final directory and no `old` sibling, a `building` tree is never promoted, for the same
 * reason. Should several `old` siblings be left (kills in a row), the one set aside last (newest
 * ctime, then name, for a total order) is restored, and the logs/ of the others are merged into it.
 */
export function planLeftoverRecovery(finalExists: boolean, leftovers: readonly Leftover[]): RecoveryStep[] {
  const olds = leftovers.filter((l) => l.kind === 'old').sort((a, b) => a.changedAtMs - b.changedAtMs || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const restore = finalExists ? undefined : olds.pop();
  return [
    ...(restore ? [{ action: 'restore' as const, name: restore.name }] : []),
    ...olds.map((l) => ({ action: 'keep-and-remove' as const, name: l.name })),
    ...leftovers.filter((l) => l.kind === 'building').map((l) => ({ action: 'remove' as const, name: l.name })).sort((a, b) => (a.name < b.name ? -1 : 1)),
  ];
}

/**
 * Recovers `finalDir` from what a killed build or replay left next to it (see
 * planLeftoverRecovery) and deletes the leftovers. Must not run while a build of the same
 * directory is under way (the reporter holds its per-identity lock). `beingRemoved` are paths
 * this process is still deleting in the background (Replaced.oldDir): not leftovers of a kill.
 * Returns the steps taken.
 */
export async function recoverLeftovers(finalDir: string, keep: string[] = [], beingRemoved: ReadonlySet<string> = new Set()): Promise<RecoveryStep[]> {
  checkKeep(keep);
  const parent = dirname(finalDir);
  const base = basename(finalDir);
  const names = await namesIn(parent);
  const leftovers: Leftover[] = [];
  for (const name of names) {
    const kind = leftoverKind(base, name);
    if (kind !== null && !beingRemoved.has(join(parent, name))) leftovers.push({ name, kind, changedAtMs: (await stat(join(parent, name))).ctimeMs });
  }
  const steps = planLeftoverRecovery(names.includes(base), leftovers);
  for (const step of steps) {
    const path = join(parent, step.name);
    switch (step.action) {
      case 'restore':
        await rename(path, finalDir);
        break;
      case 'keep-and-remove':
        for (const k of keep) await mergeInto(join(path, k), join(finalDir, k));
        await removeTree(path);
        break;
      case 'remove':
        await removeTree(path);
        break;
      default: {
        const never: never = step;
        throw new Error(`unknown recovery step ${JSON.stringify(never)}`);
      }
    }
  }
  return steps;
}

/**
 * Moves the folder `from` to `to`; when both exist, entry by entry, and `from`'s entry wins over a
 * same-named one, as in replaceDirectoryAtomically's step 3 (the set-aside logs are the long ones;
 * the new tree's are at most what was logged since the swap).
 */
async function mergeInto(from: string, to: string): Promise<void> {
  if (!(await exists(from))) return;
  if (!(await exists(to))) {
    await rename(from, to);
    return;
  }
  for (const entry of await readdir(from)) {
    await rm(join(to, entry), { recursive: true, force: true });
    await rename(join(from, entry), join(to, entry));
  }
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

/** The entry names of a directory; none when it does not exist (yet). Any other error is thrown. */
export async function namesIn(dir: string): Promise<string[]> {
  try {
    return await readdir(dir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
}
