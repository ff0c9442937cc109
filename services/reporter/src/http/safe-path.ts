import { constants } from 'node:fs';
import { lstat, realpath } from 'node:fs/promises';
import { isAbsolute, join, relative, sep } from 'node:path';
import { isMissingPath } from '@assay/contracts';

/**
 * Which file of a run directory an HTTP request may read.
 *
 * The router has already split the URL path on '/' and percent-decoded each segment once, so a
 * segment holding '/' or '\' came from `%2f`/`%5c`, and one holding '%' is a second layer of
 * encoding (`%252e` -> '%2e'). Two independent layers, both must pass:
 *
 * 1. `checkSegments` (pure, lexical): every segment must match an allow-list. The reporter names
 *    every file and folder itself, with ids encoded by `encodePathSegment` ([a-z0-9_~-]) or fixed
 *    names (README.txt, _index.csv, ...), so anything outside [A-Za-z0-9._~-], starting with a
 *    dot ('.', '..', hidden files, the `.building-*` siblings), or longer than a file name can
 *    be, is refused with a reason. The deny checks before the allow-list only exist to say *why*.
 *    Nothing is decoded, normalised or "cleaned" here: a suspicious path is refused, never repaired.
 * 2. `resolveInside` (file system): the run directory and the candidate are resolved with realpath
 *    (following every symlink) and the candidate must be the root or below it (`isInside`). A
 *    symlink in the tree pointing elsewhere is reported as `outside`, not followed.
 *
 * The caller then opens the *resolved* path with O_NOFOLLOW and checks the open descriptor is a
 * regular file, so the bytes served are those of the path that passed the check.
 */

/** No file the reporter writes has a longer name or a deeper path; longer input is refused, not truncated. */
export const MAX_SEGMENT_LENGTH = 255;
export const MAX_SEGMENTS = 32;

const ALLOWED_SEGMENT = /^[A-Za-z0-9_~-][A-Za-z0-9._~-]*$/;
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

export type SegmentCheck = { ok: true; segments: string[]; relative: string } | { ok: false; reason: string };

/**
 * Lexical check of an already-decoded path (segments, as the router gives them). `undefined` or an
 * empty list is the run directory itself; a single trailing empty segment (`dir/`) is allowed.
 */
export function checkSegments(input: readonly unknown[] | undefined | null): SegmentCheck {
  if (input === undefined || input === null) return { ok: true, segments: [], relative: '' };
  if (!Array.isArray(input)) return { ok: false, reason: 'path must be a list of segments' };
  const segments = input.length > 0 && input[input.length - 1] === '' ? input.slice(0, -1) : [...input];
  if (segments.length > MAX_SEGMENTS) return { ok: false, reason: `path has more than ${MAX_SEGMENTS} segments` };
  for (const segment of segments) {
    const why = segmentProblem(segment);
    if (why) return { ok: false, reason: why };
  }
  const checked = segments as string[];
  return { ok: true, segments: checked, relative: checked.join('/') };
}

function segmentProblem(segment: unknown): string | null {
  if (typeof segment !== 'string') return 'path segments must be strings';
  const shown = JSON.stringify(segment.length > 80 ? `${segment.slice(0, 80)}...` : segment);
  if (segment === '') return 'path has an empty segment (// or a leading /): absolute paths are not allowed';
  if (segment === '.' || segment === '..') return `path segment ${shown} is not allowed: no relative navigation`;
  if (segment.includes('\0')) return 'path contains a NUL byte';
  if (CONTROL.test(segment)) return 'path contains a control character';
  if (segment.includes('/')) return `path segment ${shown} contains an encoded '/' (%2f)`;
  if (segment.includes('\\')) return `path segment ${shown} contains a backslash`;
  if (segment.includes('%')) return `path segment ${shown} contains '%': the path is encoded more than once`;
  if (segment.includes(':')) return `path segment ${shown} contains ':' (drive letters and streams are not paths here)`;
  if (segment.length > MAX_SEGMENT_LENGTH) return `path segment is longer than ${MAX_SEGMENT_LENGTH} characters`;
  if (segment.startsWith('.')) return `path segment ${shown} starts with '.': hidden entries are not served`;
  if (!ALLOWED_SEGMENT.test(segment)) return `path segment ${shown} has characters outside [A-Za-z0-9._~-], which no run-directory file uses`;
  return null;
}

/** True when `candidate` is `root` or below it. Both must be absolute and already resolved (realpath). */
export function isInside(root: string, candidate: string): boolean {
  if (!isAbsolute(root) || !isAbsolute(candidate)) return false;
  const rel = relative(root, candidate);
  if (rel === '') return true;
  if (isAbsolute(rel)) return false; // another drive on Windows
  return rel !== '..' && !rel.startsWith(`..${sep}`);
}

export type Resolved =
  | { kind: 'file' | 'directory'; path: string; relative: string }
  | { kind: 'invalid'; reason: string }
  | { kind: 'not-found'; reason: string };

export interface ResolveFs {
  realpath(path: string): Promise<string>;
  lstat(path: string): Promise<{ isFile(): boolean; isDirectory(): boolean }>;
}

const nodeFs: ResolveFs = { realpath: (p) => realpath(p), lstat: (p) => lstat(p) };

/** Both layers: the lexical check, then realpath containment. A missing path is an answer (not-found); any other file-system error is thrown. */
export async function resolveInside(root: string, rawSegments: readonly unknown[] | undefined | null, fs: ResolveFs = nodeFs): Promise<Resolved> {
  const checked = checkSegments(rawSegments);
  if (!checked.ok) return { kind: 'invalid', reason: checked.reason };
  let realRoot: string;
  try {
    realRoot = await fs.realpath(root);
  } catch (error) {
    if (!isMissingPath(error)) throw error;
    return { kind: 'not-found', reason: 'the run directory has not been written yet' };
  }
  let real: string;
  try {
    real = await fs.realpath(join(realRoot, ...checked.segments));
  } catch (error) {
    if (!isMissingPath(error)) throw error;
    return { kind: 'not-found', reason: `'${checked.relative}' does not exist in the run directory` };
  }
  // A symlink leading out of the tree looks, to the client, like a file that is not there.
  if (!isInside(realRoot, real)) return { kind: 'not-found', reason: `'${checked.relative}' does not exist in the run directory` };
  const stat = await fs.lstat(real).catch((error: unknown) => {
    if (isMissingPath(error)) return null; // removed since realpath (a rebuild swapping the tree)
    throw error;
  });
  if (stat?.isDirectory()) return { kind: 'directory', path: real, relative: checked.relative };
  if (stat?.isFile()) return { kind: 'file', path: real, relative: checked.relative };
  return { kind: 'not-found', reason: `'${checked.relative}' is not a regular file or directory` };
}

/** Flags for opening a resolved path: read-only and refusing a symlink swapped in since the check. */
export const OPEN_FLAGS = constants.O_RDONLY | (constants.O_NOFOLLOW ?? 0);
