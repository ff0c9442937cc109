import { join } from 'node:path';

/** outputs/<method>/experiments/<identity>: identities and method names are safe tokens by construction. */
export function runDirFor(outputRoot: string, method: string, identity: string): string {
  return join(outputRoot, method, 'experiments', identity);
}

export function registryFileFor(outputRoot: string, method: string): string {
  return join(outputRoot, method, 'registry.json');
}

/** Inverse of runDirFor: where the run's method folder and output root are. */
export function parseRunDir(runDir: string): { outputRoot: string; method: string; identity: string } {
  const parts = runDir.split(/[\\/]/);
  if (parts.length < 4 || parts[parts.length - 2] !== 'experiments') throw new Error(`'${runDir}' is not <output_root>/<method>/experiments/<identity>`);
  return { outputRoot: parts.slice(0, -3).join('/') || '/', method: parts[parts.length - 3], identity: parts[parts.length - 1] };
}
