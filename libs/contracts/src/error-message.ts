/**
 * The message of anything thrown. Libraries throw strings, numbers or plain objects too
 * (parquetjs-lite threw bare strings), and `(error as Error).message` is then undefined: an
 * event or a log line built from it would say nothing, and a schema that needs a non-empty error
 * would refuse the event. Never empty: an Error without a message falls back to its name.
 */
export function errorMessage(error: unknown): string {
  if (error instanceof Error) return error.message !== '' ? error.message : error.name || String(error);
  if (typeof error === 'string') return error !== '' ? error : '(empty error string thrown)';
  if (error !== null && typeof error === 'object' && typeof (error as { message?: unknown }).message === 'string' && (error as { message: string }).message !== '') {
    return (error as { message: string }).message;
  }
  try {
    const json = JSON.stringify(error);
    if (json !== undefined && json !== '{}') return json;
  } catch {
    // a cyclic object: String() below still names its kind
  }
  return String(error);
}

/** Error codes that mean "nothing is at this path" (or not a file one can follow or read there). */
const MISSING_PATH_CODES: ReadonlySet<string> = new Set(['ENOENT', 'ENOTDIR', 'ELOOP', 'EISDIR']);

/**
 * Whether a file-system error only says the path is not there: callers turn that into a 404 or
 * "not written yet", and must let every other error (permissions, I/O, corrupt content) surface.
 */
export function isMissingPath(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException | null)?.code;
  return typeof code === 'string' && MISSING_PATH_CODES.has(code);
}
