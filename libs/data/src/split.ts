import { createHash, randomBytes } from 'node:crypto';
import { link, mkdir, open, readFile, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { z } from 'zod';
import { prettyJson } from './json-file';
import { mulberry32, shuffleInPlace } from './prng';
import { compareCodeUnits, errorMessage } from '@assay/contracts';

/**
 * Entity-level train/test split (no entity's answers on both sides, so nothing leaks from train to
 * test), stored once as JSON and loaded by every component.
 * No timestamp or host in the file: the same inputs must produce the same bytes (and hash).
 */
export interface SplitFile {
  train: string[];
  test: string[];
  seed: number;
  test_fraction: number;
  data_hash: string;
  created_by: string;
  created_at?: never;
}

export const SPLIT_CREATED_BY = 'assay makeSplit v1: mulberry32(seed) Fisher-Yates over ids sorted by code unit';

const SplitSchema = z.object({
  train: z.array(z.string()),
  test: z.array(z.string()),
  seed: z.number(),
  test_fraction: z.number(),
  data_hash: z.string(),
  created_by: z.string(),
});

export class SplitError extends Error {
  override name = 'SplitError';
}

const SHOW = 5;

function showIds(ids: string[]): string {
  const shown = ids.slice(0, SHOW).map((id) => JSON.stringify(id)).join(', ');
  return ids.length > SHOW ? `${shown}, ... and ${ids.length - SHOW} more` : shown;
}

/** Pure: same ids (in any order), seed and fraction give the same split. */
export function makeSplit(entityIds: string[], seed: number, testFraction: number, dataHash: string): SplitFile {
  if (!(testFraction > 0 && testFraction < 1)) throw new SplitError(`test_fraction must be in (0, 1), got ${testFraction}`);
  const sorted = [...entityIds].sort(compareCodeUnits);
  const dupes = sorted.filter((id, i) => i > 0 && sorted[i - 1] === id);
  if (dupes.length > 0) throw new SplitError(`cannot split: duplicate entity ids ${showIds([...new Set(dupes)])}`);
  const n = sorted.length;
  const nTest = Math.round(n * testFraction);
  // An empty side would make the run meaningless; refuse instead of silently clamping.
  if (nTest === 0 || nTest === n) {
    throw new SplitError(`cannot split ${n} entities with test_fraction ${testFraction}: it gives ${nTest} test and ${n - nTest} train entities`);
  }
  // Sorting first makes the result independent of the order the ids were read in.
  const shuffled = shuffleInPlace(sorted, mulberry32(seed));
  return {
    train: shuffled.slice(nTest).sort(compareCodeUnits),
    test: shuffled.slice(0, nTest).sort(compareCodeUnits),
    seed,
    test_fraction: testFraction,
    data_hash: dataHash,
    created_by: SPLIT_CREATED_BY,
  };
}

/** The exact bytes written: fixed key order, 2-space indent, trailing newline. */
export function serializeSplit(split: SplitFile): string {
  const { train, test, seed, test_fraction, data_hash, created_by } = split;
  return prettyJson({ train, test, seed, test_fraction, data_hash, created_by });
}

function sha256(bytes: string | Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/**
 * Reads and validates a split. A split belongs to the entities, not to the bytes of the data: it
 * is valid when it covers the data's entities, each in exactly one part (train or test), with no
 * id the profiles do not have, and a non-empty test list. Editing a profile cell or a response
 * changes the data hash but not who is in test: the same split keeps runs comparable, so a
 * changed hash is a warning, never a reason to draw the split again. `hash` is sha256 of the
 * file bytes.
 */
export async function loadSplit(path: string, entityIds: string[], expectedDataHash?: string): Promise<{ split: SplitFile; hash: string; warnings: string[] }> {
  const bytes = await readFile(path);
  let json: unknown;
  try {
    json = JSON.parse(bytes.toString('utf8'));
  } catch (err) {
    throw new SplitError(`${path}: malformed JSON: ${errorMessage(err)}`, { cause: err });
  }
  const parsed = SplitSchema.safeParse(json);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.length > 0 ? i.path.join('.') : '(root)'}: ${i.message}`).join('; ');
    throw new SplitError(`${path}: not a valid split file (expected train, test, seed, test_fraction, data_hash, created_by): ${issues}`);
  }
  const split: SplitFile = parsed.data;
  for (const side of ['train', 'test'] as const) {
    const seen = new Set<string>();
    const dupes = split[side].filter((id) => (seen.has(id) ? true : (seen.add(id), false)));
    if (dupes.length > 0) throw new SplitError(`${path}: ${dupes.length} id(s) listed more than once in "${side}": ${showIds(dupes)}`);
  }
  const trainSet = new Set(split.train);
  const both = split.test.filter((id) => trainSet.has(id));
  if (both.length > 0) throw new SplitError(`${path}: ${both.length} id(s) are in both train and test (leakage): ${showIds(both)}`);
  if (split.test.length === 0) throw new SplitError(`${path}: the test list is empty`);
  const known = new Set(entityIds);
  const unknown = [...split.train, ...split.test].filter((id) => !known.has(id));
  if (unknown.length > 0) {
    throw new SplitError(`${path}: ${unknown.length} id(s) are not in the profiles: ${showIds(unknown)}`);
  }
  // Checked after the unknown ids: an entity renamed in the profiles shows up in both lists.
  const listed = new Set([...split.train, ...split.test]);
  const leftOut = entityIds.filter((id) => !listed.has(id));
  if (leftOut.length > 0) {
    throw new SplitError(
      `${path}: ${leftOut.length} entit${leftOut.length === 1 ? 'y is' : 'ies are'} in the profiles but in neither train nor test: ${showIds(leftOut)}; ` +
        'a split must place every entity in exactly one part (add them to train or test)',
    );
  }
  const warnings: string[] = [];
  if (expectedDataHash !== undefined && split.data_hash !== expectedDataHash) {
    warnings.push(
      `${path}: the data changed since this split was drawn (data_hash ${split.data_hash}, now ${expectedDataHash}); ` +
        'it still places every entity in exactly one part, so it is used as is and results stay comparable with earlier runs on it',
    );
  }
  return { split, hash: sha256(bytes), warnings };
}

/**
 * Loads the split at `path`, or draws and writes it if the file does not exist. Creation is
 * exclusive: the content goes to a temp file in the same folder and is hard-linked into place,
 * which fails if another process got there first; the loser then loads the winner's file, so
 * concurrent callers always end up with one file and the same content.
 */
export async function ensureSplit(
  path: string,
  entityIds: string[],
  opts: { seed: number; testFraction: number; dataHash: string },
): Promise<{ split: SplitFile; created: boolean; hash: string; warnings: string[] }> {
  const existing = await loadExisting(path, entityIds, opts);
  if (existing) return existing;
  const split = makeSplit(entityIds, opts.seed, opts.testFraction, opts.dataHash);
  const text = serializeSplit(split);
  await mkdir(dirname(path), { recursive: true });
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  const handle = await open(tmp, 'wx');
  try {
    await handle.writeFile(text, 'utf8');
    await handle.sync();
  } finally {
    await handle.close();
  }
  let created = true;
  try {
    await link(tmp, path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') {
      throw new SplitError(`${path}: could not create the split file (hard link from ${tmp} failed): ${errorMessage(err)}`, { cause: err });
    }
    created = false; // another process created it between our check and our link
  } finally {
    await unlink(tmp);
  }
  if (created) return { split, created: true, hash: sha256(text), warnings: [] };
  const raced = await loadExisting(path, entityIds, opts);
  if (!raced) throw new SplitError(`${path}: link reported the file exists but it cannot be found`);
  return raced;
}

async function loadExisting(
  path: string,
  entityIds: string[],
  opts: { seed: number; testFraction: number; dataHash: string },
): Promise<{ split: SplitFile; created: false; hash: string; warnings: string[] } | null> {
  let loaded: { split: SplitFile; hash: string; warnings: string[] };
  try {
    loaded = await loadSplit(path, entityIds, opts.dataHash);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null; // not created yet: the caller creates it
    throw err;
  }
  const { split } = loaded;
  // The file wins over the config only if they agree; otherwise results would not match the config.
  if (split.seed !== opts.seed || split.test_fraction !== opts.testFraction) {
    throw new SplitError(
      `${path}: the split was drawn with seed ${split.seed} and test_fraction ${split.test_fraction}, but the config asks for seed ${opts.seed} and test_fraction ${opts.testFraction}. ` +
        `Set the config's split seed and test_fraction to the file's values to stay comparable with the runs that used this split, or name a new split file to draw another.`,
    );
  }
  return { ...loaded, created: false };
}
