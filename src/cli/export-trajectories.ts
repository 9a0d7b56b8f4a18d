/**
 * `turngym export-trajectories RUN_DIR --format messages [--out FILE] [--success-only]`: a run's recorded
 * trajectories as chat-format JSONL for SFT tools (to stdout, or to a file).
 */
import { writeFileSync } from 'node:fs';
import { Option, type Command } from 'commander';
import { EXPORT_FORMATS, type ExportFormat, exportTrajectories } from '../rl/export.js';
import { RUN_FILES, readRun } from '../rl/run-directory.js';
import { UsageError } from '../core/errors.js';

export function exportTrajectoriesCommand(program: Command): void {
  program
    .command('export-trajectories')
    .description(`export a run's ${RUN_FILES.trajectories} as chat "messages" JSONL for supervised fine-tuning`)
    .argument('<run-dir>', 'run directory, e.g. runs/quickstart')
    .addOption(new Option('--format <format>', 'output format').choices(EXPORT_FORMATS).default('messages'))
    .option('--out <file>', 'write to this file instead of standard output')
    .option('--success-only', 'keep only trajectories the verifier accepted')
    .action(async (runDir: string, options: { format: ExportFormat; out?: string; successOnly?: boolean }) => {
      const run = readRun(runDir);
      const trajectoryNotes = run.notes.filter((note) => note.startsWith(RUN_FILES.trajectories));
      for (const note of trajectoryNotes) console.error(`turngym: note: ${note}`);
      if (run.trajectories.length === 0) throw new UsageError(`${runDir} has no recorded trajectories to export.`);
      const result = exportTrajectories(run.trajectories, { format: options.format, successOnly: options.successOnly });
      const text = result.lines.length > 0 ? `${result.lines.join('\n')}\n` : '';
      if (options.out) writeFileSync(options.out, text);
      else {
        const failed = await new Promise<boolean>((resolve) =>
          process.stdout.write(text, (error) => resolve(Boolean(error))),
        );
        if (failed) return; // the reader closed early (`| head`): nothing was exported to it, and main.ts exits quietly
      }
      const leftOut = [
        result.failures ? `${result.failures} failures left out by --success-only` : '',
        result.empty ? `${result.empty} without turns` : '',
      ].filter(Boolean);
      console.error(
        `exported ${result.lines.length} of ${result.total} trajectories${leftOut.length ? ` (${leftOut.join(', ')})` : ''}${options.out ? ` to ${options.out}` : ''}`,
      );
    });
}
