import { mkdtempSync } from 'node:fs';
import { link, mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compareCodeUnits } from '@assay/contracts';
import { earlyDirOf, EARLY_BOOKKEEPING, parseEarlyDirName, PrewrittenFiles, removeEarlyBookkeeping, removeFilesNotIn, removeStaleEarlyDirs, writeEarlyBatch } from './early-files';
import { renderItemFiles, writeRunDirectory } from './run-directory';
import { hostileReport } from './testing/fixtures';
import type { RunReport } from './types';

jest.setTimeout(60000);

let root: string;
beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'assay-early-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

/** The report's rows as the log has them: one batch per entity (its prefixId), spanning groups. */
function batchesOf(report: RunReport): Map<string, RunReport['rows']> {
  const batches = new Map<string, RunReport['rows']>();
  for (const r of report.rows) batches.set(r.prefixId, [...(batches.get(r.prefixId) ?? []), r]);
  return batches;
}

/** Stages every batch but `skip`, as the reporter does while the run is scored; returns batchId -> scored event id. */
async function stage(report: RunReport, dir: string, skip: ReadonlySet<string> = new Set()): Promise<Map<string, string>> {
  const scored = new Map<string, string>();
  for (const [batchId, rows] of batchesOf(report)) {
    scored.set(batchId, `scored-${batchId}`);
    if (skip.has(batchId)) continue;
    await writeEarlyBatch(dir, { batchId, scoredEventId: `scored-${batchId}` }, renderItemFiles(rows, report.prefixes, report.method));
  }
  return scored;
}

/** What the reporter's build does with a staging tree: take the vouched-for files, write the rest, drop what the tree lacks. */
async function finish(report: RunReport, dir: string, scored: ReadonlyMap<string, string>, reuseFrom?: string) {
  const prewritten = await PrewrittenFiles.read(dir, scored);
  try {
    await removeEarlyBookkeeping(dir);
    const written = await writeRunDirectory(report, dir, { prewritten, reuseUnchangedFrom: reuseFrom });
    return { ...written, batches: prewritten.batches, staged: prewritten.size };
  } finally {
    await prewritten.close();
  }
}

async function walk(dir: string, prefix = ''): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const rel = prefix ? `${prefix}/${entry.name}` : entry.name;
    out.push(...(entry.isDirectory() ? await walk(join(dir, entry.name), rel) : [rel]));
  }
  return out.sort(compareCodeUnits);
}

describe('item files staged while the run is scored', () => {
  it('given every batch staged, when the tree is finished, then it is the tree written from the whole report, byte for byte', async () => {
    const report = hostileReport();
    const whole = await writeRunDirectory(report, join(root, 'whole'));
    const dir = join(root, 'staged');
    const finished = await finish(report, dir, await stage(report, dir));

    expect(finished.batches).toBe(batchesOf(report).size);
    expect(finished.staged).toBe(report.rows.length);
    expect(finished.treeHash).toBe(whole.treeHash);
    expect(await walk(dir)).toEqual(await walk(join(root, 'whole')));
    expect(finished.removedLeftovers).toEqual([]);
  });

  it('given a kill mid-way (a batch without manifest, a half-written file, a stale manifest, a stray file), when the tree is finished, then it is still the exact tree', async () => {
    const report = hostileReport();
    const whole = await writeRunDirectory(report, join(root, 'whole-2'));
    const dir = join(root, 'killed');
    const [first, second] = [...batchesOf(report).keys()];
    const scored = await stage(report, dir, new Set([first]));
    // The kill landed inside the first batch: some of its files, no manifest.
    const [half] = renderItemFiles(batchesOf(report).get(first)!, report.prefixes, report.method);
    await mkdir(join(dir, half.path, '..'), { recursive: true });
    await writeFile(join(dir, half.path), half.content.slice(0, 10));
    // The second batch was scored again (another event): its staged files are not the log's.
    const stale = new Map(scored).set(second, 'scored-again');
    const [staleFile] = renderItemFiles(batchesOf(report).get(second)!, report.prefixes, report.method);
    await writeFile(join(dir, staleFile.path), 'what the earlier scoring said');
    // A killed earlier finish left a global file and a file the tree does not have.
    await writeFile(join(dir, 'README.txt'), 'half a readme');
    await mkdir(join(dir, 'groups/nowhere'), { recursive: true });
    await writeFile(join(dir, 'groups/nowhere/x.txt'), 'stray');

    const finished = await finish(report, dir, stale);
    expect(finished.batches).toBe(batchesOf(report).size - 2);
    expect(finished.treeHash).toBe(whole.treeHash);
    expect(await walk(dir)).toEqual(await walk(join(root, 'whole-2')));
    expect(finished.removedLeftovers).toEqual(['groups/nowhere/x.txt']);
  });

  it('given a staged file hard-linked into the previous tree, when it is written again, then the previous tree keeps its bytes', async () => {
    const report = hostileReport();
    const previous = join(root, 'previous');
    await writeRunDirectory(report, previous);
    const dir = join(root, 'linked');
    const scored = await stage(report, dir);
    // What a killed finish with reuseUnchangedFrom leaves: README.txt linked to the previous tree's.
    await rm(join(dir, 'README.txt'), { force: true });
    await link(join(previous, 'README.txt'), join(dir, 'README.txt'));
    const before = await readFile(join(previous, 'README.txt'), 'utf8');

    const changed = { ...report, warnings: [...report.warnings, 'a warning the previous tree did not have'] };
    await finish(changed, dir, scored, previous);
    expect(await readFile(join(previous, 'README.txt'), 'utf8')).toBe(before);
    expect(await readFile(join(dir, 'README.txt'), 'utf8')).toContain('a warning the previous tree did not have');
  });

  it('given a staged item file hard-linked to a file elsewhere, when its batch is staged again, then the other file keeps its bytes', async () => {
    const report = hostileReport();
    const dir = join(root, 'item-linked');
    const [batchId, rows] = [...batchesOf(report)][0];
    const [file] = renderItemFiles(rows, report.prefixes, report.method);
    const elsewhere = join(root, 'item-linked-elsewhere.txt');
    await writeFile(elsewhere, 'bytes of another tree');
    await mkdir(join(dir, file.path, '..'), { recursive: true });
    await link(elsewhere, join(dir, file.path));

    await writeEarlyBatch(dir, { batchId, scoredEventId: `scored-${batchId}` }, renderItemFiles(rows, report.prefixes, report.method));
    expect(await readFile(elsewhere, 'utf8')).toBe('bytes of another tree');
    expect(await readFile(join(dir, file.path), 'utf8')).toBe(file.content);
  });

  it('given a batch staged twice (a redelivery), then the same bytes and one manifest', async () => {
    const report = hostileReport();
    const dir = join(root, 'twice');
    const scored = await stage(report, dir);
    const once = await walk(dir);
    await stage(report, dir);
    expect(await walk(dir)).toEqual(once);
    const prewritten = await PrewrittenFiles.read(dir, scored);
    expect(prewritten.batches).toBe(batchesOf(report).size);
    await prewritten.close();
  });

  it('given files the kept list does not have, among names that sort around a folder, when removed, then exactly those go, with the folders they empty', async () => {
    const dir = join(root, 'not-in');
    const kept = ['a-b', 'a.txt', 'a/x/1.txt', 'a/x~/2.txt', 'a~', 'b/keep.txt'];
    const stray = ['a/x-/3.txt', 'a/x/0.txt', 'a0', 'b/gone/deep.txt', 'c/only.txt'];
    for (const path of [...kept, ...stray]) {
      await mkdir(join(dir, path, '..'), { recursive: true });
      await writeFile(join(dir, path), path);
    }
    async function* inOrder(): AsyncIterable<string> {
      yield* [...kept, 'a/x/never-written.txt'].sort(compareCodeUnits);
    }
    const removed = await removeFilesNotIn(dir, inOrder());
    expect(removed.sort(compareCodeUnits)).toEqual([...stray].sort(compareCodeUnits));
    expect(await walk(dir)).toEqual([...kept].sort(compareCodeUnits));
    await expect(readdir(join(dir, 'c'))).rejects.toThrow(/ENOENT/);
    await expect(readdir(join(dir, 'b', 'gone'))).rejects.toThrow(/ENOENT/);
  });

  it('given kept paths out of order, when removing, then it says so rather than deleting kept files', async () => {
    const dir = join(root, 'not-in-order');
    for (const path of ['a.txt', 'b.txt', 'c.txt']) {
      await mkdir(dir, { recursive: true });
      await writeFile(join(dir, path), path);
    }
    async function* unsorted(): AsyncIterable<string> {
      yield* ['b.txt', 'a.txt', 'c.txt'];
    }
    await expect(removeFilesNotIn(dir, unsorted())).rejects.toThrow(/out of order: a\.txt after b\.txt/);
  });

  it('names staging trees by attempt, round and code, and removes those of earlier rounds and attempts only', async () => {
    const runDir = join(root, 'runs', 'abc_run');
    await mkdir(runDir, { recursive: true });
    const name = (a: number, r: number, code = 'v1') => earlyDirOf(runDir, a, r, code);
    expect(parseEarlyDirName('abc_run', name(2, 3).split('/').pop()!)).toMatchObject({ attempt: 2, round: 3 });
    expect(parseEarlyDirName('abc_run', 'abc_run.building-0123')).toBeNull();
    expect(parseEarlyDirName('abc', name(1, 1).split('/').pop()!)).toBeNull();
    for (const dir of [name(1, 1), name(1, 2), name(1, 2, 'v0'), name(1, 3), name(2, 1)]) await mkdir(join(dir, EARLY_BOOKKEEPING), { recursive: true });

    const removed = await removeStaleEarlyDirs(runDir, { attempt: 1, round: 2 });
    expect(removed.sort()).toEqual([name(1, 1), name(1, 2), name(1, 2, 'v0')].map((d) => d.split('/').pop()).sort());
    expect((await readdir(join(root, 'runs'))).sort()).toEqual(['abc_run', ...[name(1, 3), name(2, 1)].map((d) => d.split('/').pop())].sort());
  });
});
