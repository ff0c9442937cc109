import { ConfigError, repoRoot } from '@assay/config';
import { Command, CommanderError, InvalidArgumentError } from 'commander';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { cancelCommand } from './cancel.command';
import { compareCommand } from './compare.command';
import { CliError, cliCodeVersion } from './nats-session';
import { reevaluateCommand } from './reevaluate.command';
import { replayCommand } from './replay.command';
import { DEFAULT_STALE_AFTER_S } from '@assay/experiments';
import { runCommand } from './run.command';
import { statusCommand } from './status.command';

/** Exit codes: 0 done, 1 the run (or request) failed, 2 usage or config error, 3 infrastructure or services missing, 130 Ctrl-C. */
export const USAGE_EXIT = 2;

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('must be a positive integer');
  return n;
}

function version(): string {
  const pkg = JSON.parse(readFileSync(join(repoRoot(__dirname), 'package.json'), 'utf8')) as { version: string };
  return `assay ${pkg.version} (code ${cliCodeVersion()})`;
}

export function buildProgram(exit: (code: number) => void): Command {
  const program = new Command('assay').description('Run LLM prediction experiments reproducibly, from an event log.').showHelpAfterError();
  // Commander's own errors (unknown option, missing argument, bad value) are usage errors: exit 2,
  // apart from 1, which says a run failed. Help and --version exit 0. Set before the subcommands,
  // which inherit it.
  program.exitOverride((error: CommanderError) => {
    throw error;
  });
  // Computed only when asked (it runs git): printed, then ends the parse like commander's own version option.
  program.option('-V, --version', 'print the version and the code version');
  program.on('option:version', () => {
    process.stdout.write(`${version()}\n`);
    throw new CommanderError(0, 'commander.version', version());
  });
  // With --json, scripts get one JSON document on stdout even when the command fails before its outcome.
  const run = (action: () => Promise<number>, json = false) =>
    action().then(exit, (error: Error) => {
      const code = report(error);
      if (json) process.stdout.write(`${JSON.stringify({ status: 'error', error: error.message, exitCode: code })}\n`);
      exit(code);
    });
  program
    .command('run')
    .argument('<config>', 'experiment config (YAML)')
    .option('--force', 'run again even if this identity already completed', false)
    .option('--smoke-only', 'stop after the 4-example smoke test', false)
    .option('--answer-timeout <seconds>', 'how long to wait for the planner to answer', positiveInt, 60)
    .option('--stall-after <seconds>', 'seconds without progress before saying what looks wrong (and again as often)', positiveInt, 45)
    .option('--stale-after <seconds>', 'with --force: a running attempt with no event for this long is abandoned and a new attempt starts', positiveInt, DEFAULT_STALE_AFTER_S)
    .option('--json', 'print the outcome as one JSON document on stdout (human text stays on stderr)', false)
    .description('request a run and follow it live; prints the run directory last')
    .action((config: string, o: { force: boolean; smokeOnly: boolean; answerTimeout: number; stallAfter: number; staleAfter: number; json: boolean }) => run(() => runCommand(config, o), o.json));
  program
    .command('status')
    .argument('[identity]', 'one experiment in detail (an identity or its first characters)')
    .option('--json', 'print the registry (or the one entry) as JSON on stdout', false)
    .description('the registry: what ran, what failed, where')
    .action((identity: string | undefined, o: { json: boolean }) => run(() => statusCommand(identity, o), o.json));
  program
    .command('cancel')
    .argument('<identity>', 'the running experiment to stop (an identity or its first characters)')
    .option('--reason <text>', 'why, recorded with the cancellation (e.g. "wrong prompt template")')
    .description('stop a running experiment: its workers drop the remaining prompts; the next run of its config starts a new attempt')
    .action((identity: string, o: { reason?: string }) => run(() => cancelCommand(identity, o)));
  program
    .command('replay')
    .argument('[identity]', 'the experiment to rebuild (an identity or its first characters)')
    .option('--all', 'rebuild every completed run', false)
    .description("rebuild a run's directory from the event log")
    .action((identity: string | undefined, o: { all: boolean }) => run(() => replayCommand(identity, o)));
  program
    .command('compare')
    .argument('<identities...>', 'two or more completed runs (identities or their first characters), baseline first')
    .option('--allow-unpaired', 'compare runs on different data or splits anyway (unpaired; the README says so first)', false)
    .description('paired differences with 95% CIs, p-values (Holm) and the config diff between runs; prints the comparison directory last')
    .action((identities: string[], o: { allowUnpaired: boolean }) => run(() => compareCommand(identities, o)));
  program
    .command('reevaluate')
    .argument('<identity>', 'the experiment whose logged inference results to score again (an identity or its first characters)')
    .option('--attempt <n>', 'which attempt (default: the latest; only the latest can be re-evaluated)', positiveInt)
    .option('--reason <text>', 'why, for the run README (e.g. "parser fix for fenced JSON")')
    .option('--answer-timeout <seconds>', "how long to wait for the evaluator's answer", positiveInt, 120)
    .option('--report-timeout <seconds>', 'how long to wait for the rewritten run directory', positiveInt, 600)
    .option('--json', 'print the outcome (rounds before and after, run directory) as one JSON document on stdout', false)
    .description('score a run again with the current parse/score code, from the log, without model calls; prints the run directory last')
    .action((identity: string, o: { attempt?: number; reason?: string; answerTimeout: number; reportTimeout: number; json: boolean }) => run(() => reevaluateCommand(identity, o), o.json));
  return program;
}

/** Parses the command line and runs it; commander's usage errors exit 2 (it has printed the message). */
export function main(argv: string[], exit: (code: number) => void): void {
  try {
    buildProgram(exit).parse(argv);
  } catch (error) {
    if (!(error instanceof CommanderError)) throw error;
    exit(error.exitCode === 0 ? 0 : USAGE_EXIT);
  }
}

/** One line that says what to fix; the exit code says what kind of problem it was. */
function report(error: Error): number {
  if (error instanceof ConfigError) {
    process.stderr.write(`config error: ${error.message}\n`);
    return 2;
  }
  if (error instanceof CliError) {
    process.stderr.write(`error: ${error.message}\n`);
    return error.exitCode;
  }
  process.stderr.write(`error: ${error.stack ?? error.message}\n`);
  return 1;
}

if (require.main === module) {
  main(process.argv, (code) => process.exit(code));
}
