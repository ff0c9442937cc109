import { resolveCodeVersion } from '@assay/config';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Bakes the code version into dist/ at build time, for deployments without .git (images).
 * Inside a checkout, git decides (with the dirty marker); elsewhere CODE_VERSION must say it.
 */
const root = join(__dirname, '..', '..');
let version: string;
try {
  version = resolveCodeVersion(root);
} catch (error) {
  const fromEnv = process.env.CODE_VERSION;
  if (!fromEnv) {
    console.error(`cannot tell the code version (${(error as Error).message}); set CODE_VERSION when building outside a git checkout`);
    process.exit(1);
  }
  version = fromEnv;
}
writeFileSync(join(root, 'dist', 'code-version.txt'), `${version}\n`);
console.log(`code version ${version}`);
