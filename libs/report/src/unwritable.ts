import { errorMessage } from '@assay/contracts';

/**
 * OS errors that say the output folder cannot be written and will not become writable by
 * trying again in a few seconds: permissions, a read-only filesystem, a file where a folder
 * should be, a full disk or quota. Retrying them for minutes only delays the failure.
 */
const NOT_WRITABLE = new Set(['EACCES', 'EPERM', 'EROFS', 'ENOTDIR', 'EISDIR', 'ENOSPC', 'EDQUOT']);

/**
 * "<what> <path>: <OS error>" when `error` is a filesystem error that retrying cannot fix, else
 * null (the caller treats it as it treats any other error). Node's message already names the
 * call and the path (`EACCES: permission denied, mkdir '/out/m'`); the path is added when not.
 */
export function outputNotWritable(error: unknown, what: string): string | null {
  const code = (error as NodeJS.ErrnoException | null)?.code;
  // mkdir -p answers EEXIST when a file stands where a folder should be.
  const fileInTheWay = code === 'EEXIST' && (error as NodeJS.ErrnoException).syscall === 'mkdir';
  if (typeof code !== 'string' || !(NOT_WRITABLE.has(code) || fileInTheWay)) return null;
  const path = (error as NodeJS.ErrnoException).path;
  const message = errorMessage(error);
  return `cannot write ${what}: ${path && !message.includes(path) ? `${path}: ` : ''}${message}`;
}
