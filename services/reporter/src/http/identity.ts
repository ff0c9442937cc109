/**
 * An experiment identity as the planner makes it: the first 8 hex digits of the config + data
 * hash, '_', and the code version (a git commit, possibly with a '-dirty' marker). Checked before
 * anything touches the log or the disk; never used to build a path (run directories come from the
 * experiment.started event).
 */
export const IDENTITY_PATTERN = /^[0-9a-f]{8}_[A-Za-z0-9._-]+$/;
export const IDENTITY_MAX_LENGTH = 128;
export const IDENTITY_EXAMPLE = '1a2b3c4d_8e2ba3cd-dirty';

export function identityProblem(value: unknown): string | null {
  if (typeof value !== 'string') return 'identity must be a string';
  if (value.length > IDENTITY_MAX_LENGTH) return `identity must be at most ${IDENTITY_MAX_LENGTH} characters`;
  if (!IDENTITY_PATTERN.test(value)) {
    const shown = JSON.stringify(value.length > 60 ? `${value.slice(0, 60)}...` : value);
    return `identity must be <8 lower-case hex digits>_<code version> (e.g. ${IDENTITY_EXAMPLE}), got ${shown}`;
  }
  return null;
}
