import { createHash } from 'node:crypto';

/**
 * File and folder names built from ids (groups, entities, items).
 *
 * Scheme, applied per code point:
 *   [a-z0-9_-]          kept as is
 *   [A-Z]               '~' + the lower-case letter           ('A' -> '~a')
 *   anything else       '~' + <hex length 1-6> + <lower hex>  (' ' -> '~220', '.' -> '~22e',
 *                                                              '~' -> '~27e', 'é' -> '~2e9')
 *   empty id            '~0'
 * The code is prefix-free (after '~' a letter means upper case, a digit a hex code point), so it
 * decodes uniquely: the mapping is injective. Output is only [a-z0-9_~-]: no separators, dots,
 * control or Windows-reserved characters, no upper case (case-insensitive filesystems cannot
 * merge two names) and no non-ASCII (no filesystem unicode normalisation can merge or rename
 * them; ids are deliberately not normalised, since two distinct ids must stay two names).
 * A name equal to a Windows device name (con, nul, com1, ...), one starting with '-' (read as an
 * option by shell tools) or one in the caller's `reserved` list gets its first character escaped,
 * which still decodes to the same id.
 * Names longer than MAX_SEGMENT_BYTES keep a prefix cut at an escape boundary plus '~~' and a
 * hash of the full id ('~~' never occurs otherwise): injective up to an 80-bit hash collision.
 * The original id is always written inside the files, so the name only needs to be unique and safe.
 */

export const MAX_SEGMENT_BYTES = 120;
const HASH_HEX_CHARS = 20;
const WINDOWS_DEVICE_NAME = /^(con|prn|aux|nul|com[0-9]|lpt[0-9])$/;

function escapeCodePoint(cp: number): string {
  const hex = cp.toString(16);
  return `~${hex.length}${hex}`;
}

function isKept(c: number): boolean {
  return (c >= 0x61 && c <= 0x7a) || (c >= 0x30 && c <= 0x39) || c === 0x5f || c === 0x2d;
}

/** Encoded tokens, one per code point (lone surrogates are their own code point, so nothing is lost). */
function encodeTokens(id: string): string[] {
  const tokens: string[] = [];
  for (const ch of id) {
    const cp = ch.codePointAt(0) as number;
    if (isKept(cp)) tokens.push(ch);
    else if (cp >= 0x41 && cp <= 0x5a) tokens.push(`~${ch.toLowerCase()}`);
    else tokens.push(escapeCodePoint(cp));
  }
  return tokens;
}

export function encodePathSegment(id: string, reserved: readonly string[] = []): string {
  const tokens = encodeTokens(id);
  if (tokens.length === 0) return '~0';
  let name = tokens.join('');
  if (WINDOWS_DEVICE_NAME.test(name) || name.startsWith('-') || reserved.includes(name)) {
    // The first token is a kept character here: escaping it changes the name, not the decoded id.
    tokens[0] = escapeCodePoint(tokens[0].codePointAt(0) as number);
    name = tokens.join('');
  }
  if (name.length <= MAX_SEGMENT_BYTES) return name;
  // UTF-16 bytes, not UTF-8: UTF-8 would map every lone surrogate to U+FFFD and merge ids.
  const hash = createHash('sha256').update(Buffer.from(id, 'utf16le')).digest('hex').slice(0, HASH_HEX_CHARS);
  const budget = MAX_SEGMENT_BYTES - 2 - HASH_HEX_CHARS;
  let prefix = '';
  for (const token of tokens) {
    if (prefix.length + token.length > budget) break;
    prefix += token;
  }
  return `${prefix}~~${hash}`;
}

/** Inverse of encodePathSegment for names that were not shortened; null for hashed or foreign names. */
export function decodePathSegment(name: string): string | null {
  if (name === '~0') return '';
  if (name.includes('~~')) return null;
  let out = '';
  let i = 0;
  while (i < name.length) {
    const c = name[i];
    if (c !== '~') {
      if (!isKept(c.charCodeAt(0))) return null;
      out += c;
      i += 1;
      continue;
    }
    const next = name[i + 1] ?? '';
    if (next >= 'a' && next <= 'z') {
      out += next.toUpperCase();
      i += 2;
      continue;
    }
    const len = Number.parseInt(next, 10);
    if (!(len >= 1 && len <= 6)) return null;
    const hex = name.slice(i + 2, i + 2 + len);
    if (!/^[0-9a-f]+$/.test(hex) || hex.length !== len) return null;
    out += String.fromCodePoint(Number.parseInt(hex, 16));
    i += 2 + len;
  }
  return out;
}
