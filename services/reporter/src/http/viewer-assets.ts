import { repoRoot } from '@assay/config';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';

/** The viewer's own script and style (libs/viewer/assets), by name: nothing else is served from there. */
const ASSETS: Record<string, string> = {
  'viewer.css': 'text/css; charset=utf-8',
  'viewer.js': 'text/javascript; charset=utf-8',
};

const loaded = new Map<string, Buffer>();

export async function viewerAsset(name: string): Promise<{ type: string; bytes: Buffer } | null> {
  const type = Object.hasOwn(ASSETS, name) ? ASSETS[name] : undefined;
  if (type === undefined) return null;
  let bytes = loaded.get(name);
  if (!bytes) {
    bytes = await readFile(join(repoRoot(__dirname), 'libs', 'viewer', 'assets', name));
    loaded.set(name, bytes);
  }
  return { type, bytes };
}
