import { CliError } from './nats-session';
import { loadRegistry } from './status.command';

function reporterUrl(): string {
  return process.env.ASSAY_REPORTER_URL ?? `http://127.0.0.1:${process.env.ASSAY_HTTP_PORT ?? '3000'}`;
}

/** The reporter is the only writer of run directories: replay asks it to rebuild from the log. */
async function replayOne(identity: string): Promise<{ runDir: string; treeHash: string; files: number }> {
  const headers: Record<string, string> = {};
  if (process.env.ASSAY_API_TOKEN) headers.authorization = `Bearer ${process.env.ASSAY_API_TOKEN}`;
  let response: Response;
  try {
    response = await fetch(`${reporterUrl()}/api/experiments/${encodeURIComponent(identity)}/replay`, { method: 'POST', headers });
  } catch (error) {
    throw new CliError(`the reporter does not answer at ${reporterUrl()} (${(error as Error).message}); start the services with 'npm run up'`, 3);
  }
  const body = (await response.json()) as { runDir: string; treeHash: string; files: number; message?: string };
  if (!response.ok) throw new CliError(`replay of ${identity} failed (${response.status}): ${body.message ?? JSON.stringify(body)}`, 1);
  return body;
}

export async function replayCommand(identity: string | undefined, opts: { all: boolean }): Promise<number> {
  if (!identity && !opts.all) throw new CliError('name an identity, or --all', 2);
  const identities = opts.all ? (await loadRegistry()).filter((e) => e.status === 'completed' && e.summary.smoke === undefined).map((e) => e.identity) : [identity!];
  for (const id of identities) {
    const built = await replayOne(id);
    process.stderr.write(`${id}: rebuilt ${built.files} files, tree ${built.treeHash}\n`);
    process.stdout.write(`${built.runDir}\n`);
  }
  return 0;
}
