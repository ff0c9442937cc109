import { createHash, timingSafeEqual } from 'node:crypto';

/**
 * `Authorization: Bearer <token>` against the configured token, in constant time: both sides are
 * hashed first, so neither the content nor the length of the expected token leaks through timing.
 * The scheme is case-insensitive (RFC 7235); the token is compared exactly.
 */
export function bearerMatches(header: string | string[] | undefined, expected: string): boolean {
  if (!expected) return false;
  const value = Array.isArray(header) ? (header.length === 1 ? header[0] : undefined) : header;
  const presented = /^Bearer[ ]+(\S+)[ ]*$/i.exec(value ?? '')?.[1] ?? '';
  const a = createHash('sha256').update(presented, 'utf8').digest();
  const b = createHash('sha256').update(expected, 'utf8').digest();
  // Always compare, even when nothing was presented, so a missing header costs the same time.
  return timingSafeEqual(a, b) && presented.length > 0;
}
