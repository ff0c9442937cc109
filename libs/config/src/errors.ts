import * as path from 'node:path';

/** One problem found in a config, located as precisely as the source allows. */
export interface ConfigIssue {
  /** Dotted key path, e.g. `model.temperature`; '' for the file as a whole. */
  path: string;
  /** The file that declared the offending value (or the origin label given to the parser). */
  file: string;
  line?: number;
  column?: number;
  /** Complete one-line (or code-framed) message, already naming file, key and line. */
  message: string;
}

/**
 * Any config problem. `path` and `file` describe the first issue; `issues` holds all of them so
 * one run of the loader reports every mistake in a file instead of one per attempt.
 */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  readonly path: string;
  readonly file: string;
  readonly line?: number;
  readonly column?: number;
  readonly issues: ConfigIssue[];

  constructor(issues: ConfigIssue | ConfigIssue[]) {
    const list = Array.isArray(issues) ? issues : [issues];
    if (list.length === 0) throw new Error('ConfigError needs at least one issue');
    super(list.map((i) => i.message).join('\n'));
    const first = list[0];
    this.path = first.path;
    this.file = first.file;
    this.line = first.line;
    this.column = first.column;
    this.issues = list;
  }
}

/** `configs/x.yaml:7:3` — relative to the working directory when inside it, so messages stay short and clickable. */
export function where(file: string, line?: number, column?: number): string {
  let shown = file;
  if (path.isAbsolute(file)) {
    const rel = path.relative(process.cwd(), file);
    if (rel !== '' && !rel.startsWith('..') && !path.isAbsolute(rel)) shown = rel;
  }
  if (line === undefined) return shown;
  return column === undefined ? `${shown}:${line}` : `${shown}:${line}:${column}`;
}
