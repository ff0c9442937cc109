import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { compareCodeUnits } from '@assay/contracts';
import { TextSpool, type SpoolExtent } from './text-spool';

/** A folder's entries once sealed: its digest lines, in path order, in the spool. */
interface SealedFolder {
  extent: SpoolExtent | null;
}

/**
 * The tree hash: sha256 over every file's relative path and content hash, in path order (code
 * units), one `<path>\0<sha256 hex>\n` line per file. Replay must reproduce it. The writer computes
 * it from the bytes it writes (TreeHasher); hashTree re-reads a tree on disk to check one.
 *
 * A run tree holds one file per prediction (~357k at ten times the bench's size): keeping every
 * path and hash in a map until the end cost the reporter ~70 MB of heap, and as much again for
 * the sorted list. So a folder whose files all arrive together (a group's, `groups/<name>`) can be
 * opened (openFolder) and sealed (seal) once its last file is recorded: its lines are sorted then,
 * written to a temporary spool, and dropped from the heap. The digest and paths() merge the
 * sealed folders back with the other files in path order: the paths of one folder are contiguous
 * in that order, so a folder's lines go into the hash as one block.
 */
export class TreeHasher {
  /** Files outside any opened folder. */
  private readonly loose = new Map<string, string>();
  /** Opened folders: their files so far (a Map), or where their lines are once sealed. */
  private readonly folders = new Map<string, Map<string, string> | SealedFolder>();
  private spool: TextSpool | null = null;
  private count = 0;

  /** How many files were recorded. */
  get size(): number {
    return this.count;
  }

  /**
   * Files under `folder` ('a/b': relative, no trailing slash) are kept apart from now on, until
   * seal(folder). A folder is opened once, before any of its files, and never inside another.
   */
  openFolder(folder: string): void {
    if (folder === '' || folder.endsWith('/')) throw new Error(`tree hash: folder ${JSON.stringify(folder)} must be a relative path without a trailing '/'`);
    if (this.folders.has(folder)) throw new Error(`tree hash: folder ${folder} was opened twice`);
    if (this.folderOf(`${folder}/`) !== null) throw new Error(`tree hash: folder ${folder} is inside an opened folder`);
    const under = `${folder}/`;
    for (const other of this.folders.keys()) if (other.startsWith(under)) throw new Error(`tree hash: folder ${folder} holds the opened folder ${other}`);
    for (const path of this.loose.keys()) if (path.startsWith(under)) throw new Error(`tree hash: folder ${folder} opened after its file ${path} was recorded`);
    this.folders.set(folder, new Map());
  }

  /** Records one file's sha256 (hex); a path may be recorded once only, and not in a sealed folder. */
  add(relPath: string, sha256Hex: string): void {
    const folder = this.folderOf(relPath);
    const entries = folder === null ? this.loose : this.folders.get(folder);
    if (!(entries instanceof Map)) throw new Error(`tree hash: ${relPath} was recorded after its folder ${folder} was sealed`);
    if (entries.has(relPath)) throw new Error(`tree hash: ${relPath} was recorded twice`);
    entries.set(relPath, sha256Hex);
    this.count += 1;
  }

  /** Moves an opened folder's lines out of the heap: every later file under it is an error. */
  async seal(folder: string): Promise<void> {
    const entries = this.folders.get(folder);
    if (!(entries instanceof Map)) throw new Error(`tree hash: folder ${folder} is ${entries === undefined ? 'not opened' : 'sealed already'}`);
    let extent: SpoolExtent | null = null;
    if (entries.size > 0) {
      this.spool ??= await TextSpool.create();
      extent = await this.spool.put(linesOf(entries));
    }
    this.folders.set(folder, { extent });
  }

  /** The tree hash of everything recorded. */
  async digest(): Promise<string> {
    const outer = createHash('sha256');
    for await (const block of this.blocksInOrder()) outer.update(block);
    return outer.digest('hex');
  }

  /** Every recorded path, in path order. */
  async *paths(): AsyncIterable<string> {
    for await (const block of this.blocksInOrder()) {
      // '\0' never occurs in a path: every piece after the first starts with a 64-character hash and its newline.
      const pieces = block.split('\0');
      yield pieces[0];
      for (let i = 1; i < pieces.length - 1; i++) yield pieces[i].slice(65);
    }
  }

  /** Frees the spool of sealed folders. */
  async close(): Promise<void> {
    await this.spool?.close();
  }

  /** The digest's text in order, a file's line or a folder's lines at a time. */
  private async *blocksInOrder(): AsyncIterable<string> {
    const loose = [...this.loose.keys()].sort(compareCodeUnits);
    const folders = [...this.folders.keys()].map((f) => `${f}/`).sort(compareCodeUnits);
    let next = 0;
    for (const under of folders) {
      // Every path under a folder sorts after the folder's `<name>/` and before any later path that does not start with it.
      for (; next < loose.length && compareCodeUnits(loose[next], under) < 0; next++) yield line(loose[next], this.loose.get(loose[next])!);
      const entries = this.folders.get(under.slice(0, -1))!;
      if (entries instanceof Map) {
        if (entries.size > 0) yield linesOf(entries);
      } else if (entries.extent !== null) yield await this.spool!.get(entries.extent);
    }
    for (; next < loose.length; next++) yield line(loose[next], this.loose.get(loose[next])!);
  }

  /** The opened folder `relPath` is under, if any. */
  private folderOf(relPath: string): string | null {
    if (this.folders.size === 0) return null;
    for (let slash = relPath.indexOf('/'); slash > 0; slash = relPath.indexOf('/', slash + 1)) {
      const folder = relPath.slice(0, slash);
      if (this.folders.has(folder)) return folder;
    }
    return null;
  }
}

function line(path: string, sha256Hex: string): string {
  return `${path}\0${sha256Hex}\n`;
}

function linesOf(entries: ReadonlyMap<string, string>): string {
  return [...entries.keys()]
    .sort(compareCodeUnits)
    .map((path) => line(path, entries.get(path)!))
    .join('');
}

/** The tree hash of `files` (relative paths) as they are on disk under `dir`. */
export async function hashTree(dir: string, files: readonly string[]): Promise<string> {
  const hasher = new TreeHasher();
  for (const file of files) hasher.add(file, createHash('sha256').update(await readFile(join(dir, file))).digest('hex'));
  return hasher.digest();
}
