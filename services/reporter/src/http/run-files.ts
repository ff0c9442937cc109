import { open, readdir, stat, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { isMissingPath } from '@assay/contracts';
import { OPEN_FLAGS } from './safe-path';

export interface DirectoryEntry {
  name: string;
  type: 'file' | 'directory' | 'other';
  size?: number;
}

/**
 * The entries of a run-directory folder (already resolved and contained, see safe-path.ts), in
 * code-point order so the answer does not depend on the file system or the locale. A symlink is
 * listed as 'other' without following it; hidden entries (a leading '.') are left out, since they
 * are never served either.
 */
export async function listDirectory(dir: string): Promise<DirectoryEntry[]> {
  const dirents = await readdir(dir, { withFileTypes: true });
  const entries: DirectoryEntry[] = [];
  for (const d of dirents) {
    if (d.name.startsWith('.')) continue;
    if (d.isDirectory()) entries.push({ name: d.name, type: 'directory' });
    else if (d.isFile()) {
      const size = await stat(join(dir, d.name)).then((s) => s.size, () => undefined);
      entries.push(size === undefined ? { name: d.name, type: 'file' } : { name: d.name, type: 'file', size });
    } else entries.push({ name: d.name, type: 'other' });
  }
  return entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/**
 * Opens a resolved path for streaming: O_NOFOLLOW refuses a symlink swapped in after the
 * containment check, and the descriptor itself must be a regular file. The caller owns the handle.
 */
export async function openRegularFile(path: string): Promise<{ handle: FileHandle; size: number } | null> {
  let handle: FileHandle;
  try {
    handle = await open(path, OPEN_FLAGS);
  } catch (error) {
    if (isMissingPath(error)) return null; // gone since the check, or a symlink swapped in (ELOOP)
    throw error;
  }
  const info = await handle.stat().catch(() => null);
  if (!info?.isFile()) {
    await handle.close();
    return null;
  }
  return { handle, size: info.size };
}
