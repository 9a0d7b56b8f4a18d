/** `turngym report RUN_DIR [--compare OTHER_RUN ...]`: (re)generates a run's report.html. */
import type { Command } from 'commander';
import { pathToFileURL } from 'node:url';
import { writeReport } from '../rl/report.js';

export function reportCommand(program: Command): void {
  program
    .command('report')
    .description("write a run's self-contained report.html (plots, trajectories, configuration)")
    .argument('<run-dir>', 'run directory, e.g. runs/quickstart')
    .option('--compare <runs...>', 'other run directories to overlay on the same plots')
    .action(async (runDir: string, options: { compare?: string[] }) => {
      const result = await writeReport(runDir, { compare: options.compare ?? [] });
      for (const note of result.notes) console.error(`turngym: note: ${note}`);
      const drawn = result.plots.filter((plot) => plot.rendered);
      const skipped = result.plots.filter((plot) => !plot.rendered).map((plot) => plot.title.toLowerCase());
      const compared = result.runs.length > 1 ? ` comparing ${result.runs.join(', ')}` : '';
      console.log(
        `wrote ${result.path}${compared}: ${drawn.length} plot${drawn.length === 1 ? '' : 's'}${skipped.length ? ` (left out, not logged: ${skipped.join(', ')})` : ''}, ${result.trajectories} trajectories`,
      );
      console.log(`open ${pathToFileURL(result.path).href}`);
    });
}
