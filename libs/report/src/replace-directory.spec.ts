import { mkdir, mkdtemp, readFile, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Leftover, leftoverKind, planLeftoverRecovery, recoverLeftovers, replaceDirectoryAtomically, siblingOf } from './replace-directory';

describe('leftoverKind', () => {
  it('recognises the building and old siblings of exactly this directory', () => {
    expect(leftoverKind('run', 'run.building-0a1b2c3d')).toBe('building');
    expect(leftoverKind('run', 'run.old-0a1b2c3d4e5f')).toBe('old');
  });

  it('ignores the directory itself, other runs and look-alikes', () => {
    for (const name of ['run', 'run2.old-0a1b', 'other.building-0a1b', 'run.old-', 'run.old-xyz', 'run.older-0a1b', 'run.building-0a1b/x', 'run.old-0a1b.tmp']) {
      expect(leftoverKind('run', name)).toBeNull();
    }
  });

  it('matches the names siblingOf makes', () => {
    expect(leftoverKind('run', siblingOf('/out/run', 'old').split('/').pop()!)).toBe('old');
    expect(leftoverKind('run', siblingOf('/out/run', 'building').split('/').pop()!)).toBe('building');
  });
});

describe('planLeftoverRecovery', () => {
  const old = (name: string, changedAtMs = 0): Leftover => ({ name, kind: 'old', changedAtMs });
  const building = (name: string): Leftover => ({ name, kind: 'building', changedAtMs: 0 });

  it('given nothing left over, when planning, then does nothing', () => {
    expect(planLeftoverRecovery(true, [])).toEqual([]);
    expect(planLeftoverRecovery(false, [])).toEqual([]);
  });

  it('given a run directory and a building sibling (killed while writing), when planning, then removes the partial tree', () => {
    expect(planLeftoverRecovery(true, [building('run.building-aa')])).toEqual([{ action: 'remove', name: 'run.building-aa' }]);
  });

  it('given no run directory, an old and a building sibling (killed between the renames), when planning, then restores the old tree and removes the new one', () => {
    expect(planLeftoverRecovery(false, [building('run.building-aa'), old('run.old-bb')])).toEqual([
      { action: 'restore', name: 'run.old-bb' },
      { action: 'remove', name: 'run.building-aa' },
    ]);
  });

  it('given no run directory and only a building sibling (killed during a first build), when planning, then never promotes it', () => {
    expect(planLeftoverRecovery(false, [building('run.building-aa')])).toEqual([{ action: 'remove', name: 'run.building-aa' }]);
  });

  it('given a run directory and an old sibling (killed while carrying logs over or deleting), when planning, then moves its logs over and removes it', () => {
    expect(planLeftoverRecovery(true, [old('run.old-bb')])).toEqual([{ action: 'keep-and-remove', name: 'run.old-bb' }]);
  });

  it('given no run directory and several old siblings, when planning, then restores the one set aside last and merges the others', () => {
    const steps = planLeftoverRecovery(false, [old('run.old-cc', 300), old('run.old-aa', 100), old('run.old-bb', 300), building('run.building-dd')]);
    expect(steps).toEqual([
      { action: 'restore', name: 'run.old-cc' },
      { action: 'keep-and-remove', name: 'run.old-aa' },
      { action: 'keep-and-remove', name: 'run.old-bb' },
      { action: 'remove', name: 'run.building-dd' },
    ]);
  });
});

describe('recoverLeftovers (each state a killed build can leave, made on disk)', () => {
  let root: string;
  let parent: string;
  let runDir: string;
  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'assay-recover-'));
    parent = join(root, 'experiments');
    runDir = join(parent, 'abcd1234_run');
  });
  afterEach(async () => {
    await rm(root, { recursive: true, force: true });
  });

  async function tree(dir: string, files: Record<string, string>): Promise<void> {
    for (const [rel, content] of Object.entries(files)) {
      await mkdir(join(dir, rel, '..'), { recursive: true });
      await writeFile(join(dir, rel), content);
    }
  }

  async function read(dir: string): Promise<Record<string, string>> {
    const out: Record<string, string> = {};
    for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
      if (entry.isFile()) {
        const path = join(entry.parentPath, entry.name);
        out[path.slice(dir.length + 1)] = await readFile(path, 'utf8');
      }
    }
    return out;
  }

  const previousTree = { 'README.txt': 'previous', 'logs/planner.log': 'planner line\n', 'logs/reporter.log': 'reporter line\n' };

  it('removes a partial building tree and leaves the run directory as it was', async () => {
    await tree(runDir, previousTree);
    const building = siblingOf(runDir, 'building');
    await tree(building, { 'README.txt': 'half', 'groups/a/predictions.csv': 'x' });

    const steps = await recoverLeftovers(runDir, ['logs']);

    expect(steps).toEqual([{ action: 'remove', name: building.split('/').pop() }]);
    expect(await readdir(parent)).toEqual(['abcd1234_run']);
    expect(await read(runDir)).toEqual(previousTree);
  });

  it('restores the previous tree with its logs/ when the kill landed between the two renames', async () => {
    await tree(runDir, previousTree);
    const building = siblingOf(runDir, 'building');
    await tree(building, { 'README.txt': 'new' });
    // replaceDirectoryAtomically's step 1, then the kill: step 2 never happened.
    await rename(runDir, siblingOf(runDir, 'old'));

    const steps = await recoverLeftovers(runDir, ['logs']);

    expect(steps.map((s) => s.action)).toEqual(['restore', 'remove']);
    expect(await readdir(parent)).toEqual(['abcd1234_run']);
    expect(await read(runDir)).toEqual(previousTree);
  });

  it('removes a building tree when there is neither a run directory nor an old one (a first build killed)', async () => {
    await tree(siblingOf(runDir, 'building'), { 'README.txt': 'half' });

    expect((await recoverLeftovers(runDir, ['logs'])).map((s) => s.action)).toEqual(['remove']);
    expect(await readdir(parent)).toEqual([]);
  });

  it('moves logs/ into the new tree when the kill landed before they were carried over', async () => {
    const old = siblingOf(runDir, 'old');
    await tree(old, previousTree);
    await tree(runDir, { 'README.txt': 'new' });

    expect((await recoverLeftovers(runDir, ['logs'])).map((s) => s.action)).toEqual(['keep-and-remove']);
    expect(await readdir(parent)).toEqual(['abcd1234_run']);
    expect(await read(runDir)).toEqual({ 'README.txt': 'new', 'logs/planner.log': 'planner line\n', 'logs/reporter.log': 'reporter line\n' });
  });

  it('merges logs/ entry by entry when a service has started a new logs/ in the new tree, the set-aside file winning', async () => {
    const old = siblingOf(runDir, 'old');
    await tree(old, previousTree);
    await tree(runDir, { 'README.txt': 'new', 'logs/reporter.log': 'since the swap\n', 'logs/evaluator.log': 'evaluator line\n' });

    await recoverLeftovers(runDir, ['logs']);

    expect(await read(runDir)).toEqual({
      'README.txt': 'new',
      'logs/planner.log': 'planner line\n',
      'logs/reporter.log': 'reporter line\n',
      'logs/evaluator.log': 'evaluator line\n',
    });
    expect(await readdir(parent)).toEqual(['abcd1234_run']);
  });

  it('removes an old tree whose logs/ were already carried over (killed while deleting it)', async () => {
    await tree(siblingOf(runDir, 'old'), { 'README.txt': 'previous', 'groups/a/predictions.csv': 'x' });
    await tree(runDir, { 'README.txt': 'new', 'logs/planner.log': 'planner line\n' });

    await recoverLeftovers(runDir, ['logs']);

    expect(await readdir(parent)).toEqual(['abcd1234_run']);
    expect(await read(runDir)).toEqual({ 'README.txt': 'new', 'logs/planner.log': 'planner line\n' });
  });

  it('leaves alone a previous tree this process is still deleting in the background (not a leftover of a kill)', async () => {
    await tree(runDir, { 'README.txt': 'new', 'logs/planner.log': 'planner line\n' });
    const deleting = siblingOf(runDir, 'old');
    await tree(deleting, { 'README.txt': 'previous', 'groups/a/predictions.csv': 'x' });

    expect(await recoverLeftovers(runDir, ['logs'], new Set([deleting]))).toEqual([]);
    expect((await readdir(parent)).sort()).toEqual(['abcd1234_run', deleting.split('/').pop()]);
    // And replaceDirectoryAtomically names the tree it deletes in the background.
    const tmp = join(parent, 'next');
    await tree(tmp, { 'README.txt': 'next' });
    const { oldRemoved, oldDir } = await replaceDirectoryAtomically(tmp, runDir, ['logs']);
    expect(oldDir).toMatch(/abcd1234_run\.old-[0-9a-f]+$/);
    await oldRemoved;
  });

  it('leaves other runs and their leftovers alone, and does nothing when nothing was left', async () => {
    await tree(runDir, previousTree);
    const otherRun = join(parent, 'ffff0000_other');
    await tree(`${otherRun}.building-0a0a`, { x: 'y' });
    await tree(join(parent, 'abcd1234_run.notes'), { x: 'y' });

    expect(await recoverLeftovers(runDir, ['logs'])).toEqual([]);
    expect((await readdir(parent)).sort()).toEqual(['abcd1234_run', 'abcd1234_run.notes', 'ffff0000_other.building-0a0a']);
    expect(await recoverLeftovers(join(root, 'missing', 'run'), ['logs'])).toEqual([]);
  });
});
