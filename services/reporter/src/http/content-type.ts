import { extname } from 'node:path';

/**
 * Content-Type of a run-directory file, by extension. Text files are declared UTF-8 (the reporter
 * writes nothing else); YAML is served as text/yaml so browsers show it rather than download it.
 * Anything unknown, parquet included, is opaque bytes.
 */
const TYPES: Record<string, string> = {
  '.txt': 'text/plain; charset=utf-8',
  '.log': 'text/plain; charset=utf-8',
  '.csv': 'text/csv; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.yaml': 'text/yaml; charset=utf-8',
  '.yml': 'text/yaml; charset=utf-8',
  '.parquet': 'application/octet-stream',
};

export const OPAQUE = 'application/octet-stream';

export function contentTypeFor(fileName: string): string {
  return TYPES[extname(fileName).toLowerCase()] ?? OPAQUE;
}

/** Opaque files are offered as downloads; text is shown inline. */
export function isInline(contentType: string): boolean {
  return contentType !== OPAQUE;
}
