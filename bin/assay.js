#!/usr/bin/env node
// The `assay` command: runs the compiled CLI (npm run build first).
const { existsSync } = require('node:fs');
const { join } = require('node:path');
const main = join(__dirname, '..', 'dist', 'services', 'cli', 'src', 'main.js');
if (!existsSync(main)) {
  console.error(`assay is not built: run 'npm run build' in ${join(__dirname, '..')}`);
  process.exit(2);
}
require(main).main(process.argv, (code) => process.exit(code));
