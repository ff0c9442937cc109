import { createHash } from 'node:crypto';
import { mkdirSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { readdir, readFile, rm, rmdir } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { compareCodeUnits } from '@assay/contracts';
import { namesIn, removeTree } from './replace-directory';
import { TextSpool, type SpoolExtent } from './text-spool';

/**
 * Item files written while the run is scored, not after it.
 *
 * A run directory's bulk is one file per prediction (~42k on a full run), and each depends only on
 * its entity batch's events (request, answer, scored prediction) and the run's plan and method:
 * no rank, no run-wide number, no link to an index page (see renderItemFiles). The reporter
 * writes them as each evaluation.batch.scored arrives, into a staging tree named after the
 * attempt, the evaluation round and the reporter's code version (`<run>.early-a<attempt>-r<round>-<code>`),
 * so a restarted reporter continues the same tree and code that renders other bytes never mixes
 * its files with an older build's. At evaluation.completed the final build writes only what
 * depends on every entity (summaries with ranks, indexes, parquet, README...) into that tree and
 * swaps it in as before (replaceDirectoryAtomically).
 *
 * What makes a staged file trusted: after writing a batch's files the writer records a manifest
 * (`.early/<batch>.json`: the scored event's id, each file's path and sha256), renamed into place
 * last. The final build takes a batch's files as written only when its manifest names the scored
 * event the log holds for that batch in that round; any other batch (no manifest: killed mid-batch,
 * or not yet consumed; another event id) is rendered again by the final build, over whatever is
 * there. The bookkeeping folder is removed before the swap, and so is every file the tree does not
 * list (removeFilesNotIn), so the swapped tree is exactly what a build from the log alone writes.
 * Rewriting a batch (a redelivery) writes the same bytes, each file unlinked first so a leftover
 * hard link into another tree is never written through.
 */

export const EARLY_BOOKKEEPING = '.early';

export interface EarlyManifest {
  batchId: string;
  /** The evaluation.batch.scored the files were rendered from. */
  scoredEventId: string;
  /** [path relative to the run directory, sha256 hex of the bytes]. */
  files: Array<[string, string]>;
}

export interface EarlyDirName {
  attempt: number;
  round: number;
  code: string;
}

/** The staging tree of one attempt's evaluation round, as rendered by one code version. */
export function earlyDirOf(runDir: string, attempt: number, round: number, codeVersion: string): string {
  const code = createHash('sha256').update(codeVersion).digest('hex').slice(0, 12);
  return join(dirname(runDir), `${basename(runDir)}.early-a${attempt}-r${round}-${code}`);
}

/** Whether `name` (an entry of the run directory's parent) is a staging tree of the run directory named `base`. */
export function parseEarlyDirName(base: string, name: string): EarlyDirName | null {
  if (!name.startsWith(`${base}.`)) return null;
  const match = /^early-a([1-9][0-9]*)-r([1-9][0-9]*)-([0-9a-f]{12})$/.exec(name.slice(base.length + 1));
  return match ? { attempt: Number(match[1]), round: Number(match[2]), code: match[3] } : null;
}

function manifestPath(dir: string, batchId: string): string {
  return join(dir, EARLY_BOOKKEEPING, `${createHash('sha256').update(batchId).digest('hex').slice(0, 32)}.json`);
}

/**
 * Files written between two turns of the event loop (the reporter's HTTP viewer shares the thread).
 * Synchronous calls, not fs/promises: measured on the a1 bench, the promise API's per-file round
 * trips (FileHandle, thread-pool hand-offs, rm's lstat calls) were most of the reporter's CPU while
 * the run was scored. A slice of files takes a few ms on the bench machine's disk.
 */
const FILES_PER_SLICE = 16;

/**
 * Writes one scored batch's item files into the staging tree `dir`, then its manifest. Idempotent:
 * a redelivered batch writes the same bytes (each file replaced, never written through).
 */
export async function writeEarlyBatch(dir: string, batch: { batchId: string; scoredEventId: string }, files: ReadonlyArray<{ path: string; content: string }>): Promise<EarlyManifest> {
  for (const folder of new Set(files.map((f) => dirname(f.path)))) mkdirSync(join(dir, folder), { recursive: true });
  const written: Array<[string, string]> = [];
  for (let at = 0; at < files.length; at++) {
    if (at > 0 && at % FILES_PER_SLICE === 0) await new Promise((resolve) => setImmediate(resolve));
    const { path, content } = files[at];
    writeNewFile(join(dir, path), content);
    written.push([path, createHash('sha256').update(content, 'utf8').digest('hex')]);
  }
  const manifest: EarlyManifest = { batchId: batch.batchId, scoredEventId: batch.scoredEventId, files: written };
  const target = manifestPath(dir, batch.batchId);
  mkdirSync(dirname(target), { recursive: true });
  // Renamed into place: a manifest is whole or absent, and absent means "render this batch again".
  writeFileSync(`${target}.tmp`, JSON.stringify(manifest));
  renameSync(`${target}.tmp`, target);
  return manifest;
}

/**
 * Creates `path` with `content`. A file already there (a redelivered batch's, or a killed build's
 * hard link into the previous tree) is unlinked and the file created anew, never written through.
 * Exclusive create first: a fresh staging tree, the usual case, costs no unlink or stat per file.
 */
function writeNewFile(path: string, content: string): void {
  try {
    writeFileSync(path, content, { encoding: 'utf8', flag: 'wx' });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    unlinkSync(path);
    writeFileSync(path, content, { encoding: 'utf8', flag: 'wx' });
  }
}

/** The item files already written into a staging tree (relative path -> sha256 of their bytes), asked for a group folder at a time. */
export interface StagedFiles {
  /** How many there are. */
  readonly size: number;
  /** Those under `folder` (relative, e.g. `groups/<name>`). */
  under(folder: string): Promise<ReadonlyMap<string, string>>;
}

/** Manifest entries held per folder before they go to the spool. */
const STAGED_CHUNK = 4096;

/**
 * The staged files the final build may take as written: those of batches whose manifest names the
 * scored event the log has for the batch (`scored`: batchId -> event id). Other manifests are
 * ignored (their batches are rendered again). Unreadable manifests count as absent: a kill cannot
 * leave one (they are renamed into place), so one is named in `ignored` for the caller to log.
 *
 * A manifest lists one entity's files across every group, the build takes them a group at a
 * time: they are sorted into their group folder (a path's first two segments) on a temporary
 * spool, so the heap holds one group's at most (~60k paths at ten times the bench's size), not
 * the run's. close() frees the spool.
 */
export class PrewrittenFiles implements StagedFiles {
  private constructor(
    private readonly spool: TextSpool,
    private readonly byFolder: ReadonlyMap<string, SpoolExtent[]>,
    readonly size: number,
    readonly batches: number,
    readonly ignored: string[],
  ) {}

  static async read(dir: string, scored: ReadonlyMap<string, string>): Promise<PrewrittenFiles> {
    const spool = await TextSpool.create();
    try {
      const byFolder = new Map<string, SpoolExtent[]>();
      const pending = new Map<string, Array<[string, string]>>();
      const spoolChunk = async (folder: string, entries: Array<[string, string]>): Promise<void> => {
        const extents = byFolder.get(folder) ?? [];
        extents.push(await spool.put(JSON.stringify(entries)));
        byFolder.set(folder, extents);
      };
      const ignored: string[] = [];
      let batches = 0;
      let size = 0;
      for (const name of (await namesIn(join(dir, EARLY_BOOKKEEPING))).sort()) {
        if (!name.endsWith('.json')) continue;
        const path = join(dir, EARLY_BOOKKEEPING, name);
        let manifest: EarlyManifest;
        try {
          manifest = JSON.parse(await readFile(path, 'utf8')) as EarlyManifest;
        } catch (error) {
          ignored.push(`${path}: ${(error as Error).message}`);
          continue;
        }
        if (scored.get(manifest.batchId) !== manifest.scoredEventId) continue;
        batches += 1;
        for (const entry of manifest.files) {
          const folder = groupFolderOf(entry[0]);
          const entries = pending.get(folder) ?? [];
          entries.push(entry);
          pending.set(folder, entries);
          size += 1;
          if (entries.length >= STAGED_CHUNK) {
            pending.delete(folder);
            await spoolChunk(folder, entries);
          }
        }
      }
      for (const [folder, entries] of pending) await spoolChunk(folder, entries);
      return new PrewrittenFiles(spool, byFolder, size, batches, ignored);
    } catch (error) {
      await spool.close();
      throw error;
    }
  }

  /** Those under `folder`; a path listed by two manifests has the later one's hash, as the files on disk do. */
  async under(folder: string): Promise<ReadonlyMap<string, string>> {
    const files = new Map<string, string>();
    for (const extent of this.byFolder.get(folder) ?? []) for (const [path, sha256] of JSON.parse(await this.spool.get(extent)) as Array<[string, string]>) files.set(path, sha256);
    return files;
  }

  close(): Promise<void> {
    return this.spool.close();
  }
}

/** `groups/<name>` of `groups/<name>/...`: a path's first two segments (fewer when it has fewer folders). */
function groupFolderOf(path: string): string {
  const first = path.indexOf('/');
  const second = first < 0 ? -1 : path.indexOf('/', first + 1);
  return second < 0 ? (first < 0 ? '' : path.slice(0, first)) : path.slice(0, second);
}

/** Removes the staging bookkeeping from a tree about to be swapped in. */
export async function removeEarlyBookkeeping(dir: string): Promise<void> {
  await rm(join(dir, EARLY_BOOKKEEPING), { recursive: true, force: true });
}

/**
 * Deletes every file under `dir` that `keep` (relative '/'-separated paths, in code-unit order)
 * does not list, and the folders left empty; returns the deleted files' paths. What a killed
 * earlier attempt at a build may have left in a staging tree that this build's tree does not have.
 * The walk visits files in the same order (a folder's entries sorted with '/' after a folder's
 * name, as in its files' paths), so `keep` is read once, beside it, and never held.
 */
export async function removeFilesNotIn(dir: string, keep: AsyncIterable<string>): Promise<string[]> {
  const kept = keep[Symbol.asyncIterator]();
  let next = await kept.next();
  let previous: string | null = null;
  /** Whether `path` is in `keep`: advances past the kept paths before it. */
  const isKept = async (path: string): Promise<boolean> => {
    while (!next.done && compareCodeUnits(next.value, path) < 0) {
      if (previous !== null && compareCodeUnits(previous, next.value) >= 0) throw new Error(`removeFilesNotIn: kept paths out of order: ${next.value} after ${previous}`);
      previous = next.value;
      next = await kept.next();
    }
    return !next.done && next.value === path;
  };
  const removed: string[] = [];
  const walk = async (rel: string): Promise<boolean> => {
    const entries = (await readdir(rel === '' ? dir : join(dir, rel), { withFileTypes: true }))
      .map((e) => ({ entry: e, key: e.isDirectory() ? `${e.name}/` : e.name }))
      .sort((a, b) => compareCodeUnits(a.key, b.key));
    let left = entries.length;
    for (const { entry } of entries) {
      const path = rel === '' ? entry.name : `${rel}/${entry.name}`;
      if (entry.isDirectory()) {
        if (!(await walk(path))) {
          await rmdir(join(dir, path));
          left -= 1;
        }
      } else if (!(await isKept(path))) {
        await rm(join(dir, path), { force: true });
        removed.push(path);
        left -= 1;
      }
    }
    return left > 0;
  };
  await walk('');
  return removed;
}

/**
 * Staging trees of `runDir` that no build will use: those of earlier attempts or rounds than the
 * one just built (`built`) and those of the same one by other code versions. Later rounds'
 * (a re-evaluation being scored) are left alone. Returns their names, after deleting them.
 */
export async function removeStaleEarlyDirs(runDir: string, built: { attempt: number; round: number }): Promise<string[]> {
  const parent = dirname(runDir);
  const base = basename(runDir);
  const stale = (await namesIn(parent)).filter((name) => {
    const early = parseEarlyDirName(base, name);
    return early !== null && (early.attempt < built.attempt || (early.attempt === built.attempt && early.round <= built.round));
  });
  for (const name of stale) await removeTree(join(parent, name));
  return stale;
}
