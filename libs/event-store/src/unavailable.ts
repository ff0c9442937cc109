/**
 * Postgres or NATS could not be reached (refused, dropped, restarting, timing out). Not the
 * message's fault: the same work succeeds once the server is back, so consumers keep it and
 * retry instead of counting the failure toward giving up. Raised only where the store talks to
 * Postgres or publishes to NATS, so a model server refusing connections is never mistaken for it.
 */
export class InfrastructureUnavailableError extends Error {
  constructor(
    readonly system: 'Postgres' | 'NATS',
    override readonly cause: unknown,
  ) {
    super(`${system} unavailable: ${describe(cause)}`);
    this.name = 'InfrastructureUnavailableError';
  }
}

/** Socket-level failures of a connection to a server that is down, restarting or unreachable. */
const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ECONNABORTED', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'EHOSTDOWN', 'ENOTFOUND', 'EAI_AGAIN']);

/**
 * Postgres SQLSTATEs of a server that cannot serve right now: class 08 (connection exception),
 * 57P01-57P03 (shut down by an administrator, crashed, starting up or in recovery), 53300 (too
 * many connections).
 */
function isUnavailableSqlState(code: string): boolean {
  return /^08[0-9A-Z]{3}$/.test(code) || ['57P01', '57P02', '57P03', '53300'].includes(code);
}

/** What node-postgres and its pool throw, without a code, when the connection goes away or cannot be made. */
const PG_CONNECTION_MESSAGES = /Connection terminated|is not queryable|timeout exceeded when trying to connect|the database system is (starting up|shutting down|in recovery)/i;

/** @nats-io error classes of a closed, reconnecting or unanswering server (JetStream down is "no responders"). */
const NATS_UNAVAILABLE_NAMES = new Set(['ClosedConnectionError', 'DrainingConnectionError', 'ConnectionError', 'TimeoutError', 'NoResponders', 'NoRespondersError']);

/**
 * Whether an error thrown by a Postgres query or a NATS publish means the server is unreachable
 * (pure; looks through `cause` and AggregateError's `errors`). Query errors (constraint
 * violations, syntax, a missing table) are not outages: retrying the same statement fails again.
 */
export function isConnectionFailure(error: unknown, depth = 0): boolean {
  if (depth > 5 || typeof error !== 'object' || error === null) return false;
  const e = error as { code?: unknown; name?: unknown; message?: unknown; cause?: unknown; errors?: unknown };
  if (typeof e.code === 'string' && (NETWORK_CODES.has(e.code) || isUnavailableSqlState(e.code))) return true;
  if (typeof e.name === 'string' && NATS_UNAVAILABLE_NAMES.has(e.name)) return true;
  if (typeof e.message === 'string' && PG_CONNECTION_MESSAGES.test(e.message)) return true;
  if (Array.isArray(e.errors) && e.errors.some((inner) => isConnectionFailure(inner, depth + 1))) return true;
  return isConnectionFailure(e.cause, depth + 1);
}

/** The error to rethrow: wrapped as an outage of `system` when it is one, unchanged otherwise. */
export function asUnavailable(system: InfrastructureUnavailableError['system'], error: unknown): unknown {
  if (error instanceof InfrastructureUnavailableError || !isConnectionFailure(error)) return error;
  return new InfrastructureUnavailableError(system, error);
}

/** Whether `error`, or anything in its cause chain, is an outage of Postgres or NATS. */
export function isInfrastructureOutage(error: unknown): boolean {
  for (let e = error, depth = 0; typeof e === 'object' && e !== null && depth < 6; e = (e as { cause?: unknown }).cause, depth++) {
    if (e instanceof InfrastructureUnavailableError) return true;
  }
  return false;
}

function describe(error: unknown): string {
  if (error instanceof Error) {
    // AggregateError (e.g. ECONNREFUSED on both ::1 and 127.0.0.1) has an empty message of its own.
    if (!error.message && error instanceof AggregateError) return error.errors.map(describe).join('; ');
    return error.message || error.name;
  }
  return String(error);
}
