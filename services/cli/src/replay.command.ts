import { resolveIdentity } from './identity-prefix';
import { CliError } from './nats-session';
import { errorMessage } from '@assay/contracts';

function reporterUrl(): string {
  return (process.env.ASSAY_REPORTER_URL ?? `http://127.0.0.1:${process.env.ASSAY_HTTP_PORT ?? '3000'}`).replace(/\/+$/, '');
}

interface ReplayResult {
  identity: string;
  runDir: string;
  treeHash: string;
  files: number;
}

interface RegistryRow {
  identity: string;
  status: string;
  summary: Record<string, unknown>;
}

/**
 * Talks to the reporter over HTTP: it is the only writer of run directories, so replay asks it to
 * rebuild from the log (and --all asks it for the registry). ASSAY_API_TOKEN, when set, is sent as
 * the bearer token; ASSAY_REPORTER_URL (or ASSAY_HTTP_PORT) says where the reporter listens.
 */
export async function call<T>(method: 'GET' | 'POST', path: string, what: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (process.env.ASSAY_API_TOKEN) headers.authorization = `Bearer ${process.env.ASSAY_API_TOKEN}`;
  let response: Response;
  try {
    response = await fetch(`${reporterUrl()}${path}`, { method, headers, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
  } catch (error) {
    throw new CliError(`the reporter does not answer at ${reporterUrl()} (${errorMessage(error)}); start the services with 'npm run up'`, 3);
  }
  const text = await response.text();
  let answer: unknown;
  try {
    answer = JSON.parse(text);
  } catch {
    answer = undefined;
  }
  if (!response.ok) {
    const message = (answer as { message?: unknown } | undefined)?.message;
    const detail = Array.isArray(message) ? message.join('; ') : typeof message === 'string' ? message : text.slice(0, 200) || response.statusText;
    const hint = response.status === 401 ? (process.env.ASSAY_API_TOKEN ? ' (check ASSAY_API_TOKEN)' : ' (set ASSAY_API_TOKEN to the reporter\'s token)') : '';
    throw new CliError(`${what} failed (${response.status}): ${detail}${hint}`, response.status === 401 || response.status === 403 ? 3 : 1);
  }
  if (answer === undefined) throw new CliError(`${what}: the reporter at ${reporterUrl()} answered ${response.status} without JSON`, 1);
  return answer as T;
}

function replayOne(identity: string): Promise<ReplayResult> {
  return call<ReplayResult>('POST', `/api/experiments/${encodeURIComponent(identity)}/replay`, `replay of ${identity}`);
}

export async function replayCommand(identity: string | undefined, opts: { all: boolean }): Promise<number> {
  if (!identity && !opts.all) throw new CliError('name an identity, or --all', 2);
  if (identity && opts.all) throw new CliError('name an identity or --all, not both', 2);
  const identities = opts.all
    ? (await call<{ experiments: RegistryRow[] }>('GET', '/api/experiments', 'reading the registry')).experiments
        .filter((e) => e.status === 'completed' && e.summary.smoke === undefined)
        .map((e) => e.identity)
    : [await resolveIdentity(identity!)];
  if (opts.all && identities.length === 0) process.stderr.write('no completed experiments to replay\n');
  let failed = 0;
  for (const id of identities) {
    try {
      const built = await replayOne(id);
      process.stderr.write(`${id}: rebuilt ${built.files} files, tree ${built.treeHash}\n`);
      process.stdout.write(`${built.runDir}\n`);
    } catch (error) {
      // One identity: fail as is. --all: say which failed, go on with the rest, exit non-zero.
      if (!opts.all || (error instanceof CliError && error.exitCode === 3)) throw error;
      failed += 1;
      process.stderr.write(`${errorMessage(error)}\n`);
    }
  }
  if (failed > 0) throw new CliError(`${failed} of ${identities.length} replays failed`, 1);
  return 0;
}
