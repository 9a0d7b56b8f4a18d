/**
 * The turngym command line. Each command lives in its own file; this one wires them up and turns errors
 * into messages: a bad command line or a bad argument exits with code 2, anything else with 1. An error
 * turngym raised on purpose (a TurngymError) is its message, one line; only an unexpected error (a bug)
 * prints its stack. A reader that closes standard output early (`turngym export-trajectories RUN | head`)
 * ends the command quietly with code 0, as Unix tools do.
 */
import { Command, CommanderError } from 'commander';
import '../envs/builtin.js';
import { TurngymError } from '../core/errors.js';
import { benchCommand } from './bench.js';
import { isUsageError } from './common.js';
import { exportTrajectoriesCommand } from './export-trajectories.js';
import { listCommand } from './list.js';
import { reportCommand } from './report.js';
import { runCommand } from './run.js';
import { serveCommand } from './serve.js';
import { sftCommand } from './sft.js';
import { sitesCommand } from './sites.js';
import { evalCommand } from './eval.js';
import { trainCommand } from './train.js';

export function buildProgram(): Command {
  const program = new Command('turngym')
    .description('a gym for training multi-turn, tool-using agents with reinforcement learning')
    .version('0.1.0')
    .exitOverride()
    .showHelpAfterError('(run with --help for usage)');
  listCommand(program);
  runCommand(program);
  serveCommand(program);
  sftCommand(program);
  evalCommand(program);
  trainCommand(program);
  reportCommand(program);
  exportTrajectoriesCommand(program);
  benchCommand(program);
  sitesCommand(program);
  for (const command of program.commands) command.exitOverride();
  return program;
}

export async function main(argv: string[]): Promise<number> {
  try {
    await buildProgram().parseAsync(argv, { from: 'user' });
    return 0;
  } catch (error) {
    if (error instanceof CommanderError) {
      // commander already printed its message; help and version are not errors.
      return error.exitCode === 0 ? 0 : 2;
    }
    if (isUsageError(error)) {
      console.error(`turngym: ${(error as Error).message}`);
      return 2;
    }
    if (TurngymError.is(error)) {
      console.error(`turngym: ${error.message}`);
      return 1;
    }
    console.error(`turngym: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    return 1;
  }
}

for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') process.exit(0); // the reader is gone: nothing left to say to it
    throw error;
  });
}
process.exitCode = await main(process.argv.slice(2));
