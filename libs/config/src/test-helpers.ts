import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

/** A throwaway folder tree: `files` maps relative paths to their text. Returns the root. */
export function tempTree(files: Record<string, string>): string {
  const root = mkdtempSync(path.join(os.tmpdir(), 'assay-config-'));
  for (const [rel, text] of Object.entries(files)) {
    const file = path.join(root, rel);
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, text);
  }
  return root;
}

/** The smallest complete config, as YAML lines (paths relative to the declaring file). */
export const MINIMAL_YAML = [
  'name: t',
  'method: llm_zero_shot',
  'data:',
  '  profiles: data/profiles.csv',
  '  responses: data/responses.csv',
  '  items: data/items.csv',
  '  split: data/split.json',
  'model:',
  '  id: m',
  '  base_url: http://127.0.0.1:8000/v1',
  'output_root: outputs',
  '',
].join('\n');

/** The same config as a raw object, for parseExperimentConfig. */
export function minimalRaw(): Record<string, unknown> {
  return {
    name: 't',
    method: 'llm_zero_shot',
    data: { profiles: '/d/profiles.csv', responses: '/d/responses.csv', items: '/d/items.csv', split: '/d/split.json' },
    model: { id: 'm', base_url: 'http://127.0.0.1:8000/v1' },
    output_root: '/out',
  };
}
