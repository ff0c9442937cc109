import { ConfigError } from '@assay/config';
import { Command, InvalidArgumentError } from 'commander';
import { cancelCommand } from './cancel.command';
import { CliError } from './nats-session';
import { reevaluateCommand } from './reevaluate.command';
import { replayCommand } from './replay.command';
import { DEFAULT_STALE_AFTER_S } from '@assay/experiments';
import { runCommand } from './run.command';
import { statusCommand } from './status.command';

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('must be a positive integer');
  return n;
}

export function buildProgram(exit: (code: number) => void): Command {
  const program = new Command('assay').description('Run LLM prediction experiments reproducibly, from an event log.').showHelpAfterError();
  const run = (action: () => Promise<number>) => action().then(exit, (error: Error) => exit(report(error)));
  program
    .command('run')
    .argument('<config>', 'experiment config (YAML)')
    .option('--force', 'run again even if this identity already completed', false)
    .option('--smoke-only', 'stop after the 4-example smoke test', false)
    .option('--answer-timeout <seconds>', 'how long to wait for the planner to answer', positiveInt, 60)
    .option('--stale-after <seconds>', 'with --force: a running attempt with no event for this long is abandoned and a new attempt starts', positiveInt, DEFAULT_STALE_AFTER_S)
    .description('request a run and follow it live; prints the run directory last')
    .action((config: string, o: { force: boolean; smokeOnly: boolean; answerTimeout: number; staleAfter: number }) => run(() => runCommand(config, o)));
  program
    .command('status')
    .argument('[identity]', 'one experiment in detail')
    .description('the registry: what ran, what failed, where')
    .action((identity?: string) => run(() => statusCommand(identity)));
  program
    .command('cancel')
    .argument('<identity>', 'the running experiment to stop')
    .option('--reason <text>', 'why, recorded with the cancellation (e.g. "wrong prompt template")')
    .description('stop a running experiment: its workers drop the remaining prompts; the next run of its config starts a new attempt')
    .action((identity: string, o: { reason?: string }) => run(() => cancelCommand(identity, o)));
  program
    .command('replay')
    .argument('[identity]', 'the experiment to rebuild')
    .option('--all', 'rebuild every completed run', false)
    .description("rebuild a run's directory from the event log")
    .action((identity: string | undefined, o: { all: boolean }) => run(() => replayCommand(identity, o)));
  program
    .command('reevaluate')
    .argument('<identity>', 'the experiment whose logged inference results to score again')
    .option('--attempt <n>', 'which attempt (default: the latest; only the latest can be re-evaluated)', positiveInt)
    .option('--reason <text>', 'why, for the run README (e.g. "parser fix for fenced JSON")')
    .option('--answer-timeout <seconds>', "how long to wait for the evaluator's answer", positiveInt, 120)
    .option('--report-timeout <seconds>', 'how long to wait for the rewritten run directory', positiveInt, 600)
    .description('score a run again with the current parse/score code, from the log, without model calls; prints the run directory last')
    .action((identity: string, o: { attempt?: number; reason?: string; answerTimeout: number; reportTimeout: number }) => run(() => reevaluateCommand(identity, o)));
  return program;
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
  buildProgram((code) => process.exit(code)).parse(process.argv);
}
