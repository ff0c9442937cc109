/**
 * The bytes of a JSON file people read: 2-space indent and a trailing newline, keys in the order
 * given. Not for hashing: canonicalJson (in @assay/config) sorts keys and drops whitespace.
 */
export function prettyJson(value: unknown): string {
  return `${JSON.stringify(value, null, 2)}\n`;
}
