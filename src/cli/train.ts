/**
 * `turngym train`: RL training from the command line. Its flags are generated from the trainer's zod schema
 * (src/rl/config.ts), so every option has one name, one default and one description everywhere.
 *
 *   turngym train --env puzzle/guess-number-v0 --init runs/sft --steps 50 --out runs/rl
 *   turngym train --config my-run.json --steps 100      # a JSON file of options; flags override it
 *   turngym train --resume runs/rl --steps 200           # continue a run exactly where it stopped
 *   turngym train --preset quickstart --overwrite        # start over in a run directory that holds a run
 */
import { readFile } from 'node:fs/promises';
import { type Command, Option } from 'commander';
import { parseTrainConfig, trainConfigSchema } from '../rl/config.js';
import { PRESETS } from '../rl/presets.js';
import { RunDirectory } from '../rl/run-directory.js';
import { TrainingProgress, outcomeLines } from './progress.js';
import { train } from '../rl/trainer.js';
import { importModules } from './common.js';
import { UsageError } from '../core/errors.js';
import { addSchemaOptions, flag, readSchemaOptions } from './options.js';

export function trainCommand(program: Command): void {
  const command = program
    .command('train')
    .description('train a policy with turn-level RL (GRPO/IGPO, Clip-Cov/KL-Cov, horizon curricula)')
    .option(
      '--preset <name>',
      `start from a named preset: ${Object.keys(PRESETS).join(', ')} (other flags override it)`,
    )
    .option('--config <file>', 'JSON file of training options (flags given here override it)')
    .option('--resume <dir>', "continue the run in DIR from its latest checkpoint (with the run's own config)")
    .option(
      '--overwrite',
      'start a new run in --out even if it holds one: deletes that run (its config, metrics, trajectories, checkpoints, report) first',
    )
    .addOption(new Option('--env-kwargs <json>', 'the old name of --kwargs (deprecated)').hideHelp());
  addSchemaOptions(command, trainConfigSchema);
  command.action(async (flags: Record<string, unknown>) => {
    if (flags.envKwargs !== undefined) {
      if (flags.kwargs !== undefined) throw new UsageError('Give --kwargs only: --env-kwargs is its old name.');
      console.error(
        'turngym train: --env-kwargs is now --kwargs, as in run, sft and eval; the old name goes in a later release.',
      );
      flags.kwargs = flags.envKwargs;
    }
    const given = readSchemaOptions(flags, trainConfigSchema);
    let base: Record<string, unknown> = {};
    if (typeof flags.resume === 'string') {
      base = await readJsonObject(
        new RunDirectory(flags.resume).path('config'),
        '--resume',
        "It holds the run's options, written when the run started: restore it from a copy, or start a new run (another --out).",
      );
    } else {
      if (typeof flags.preset === 'string') {
        if (!PRESETS[flags.preset])
          throw new UsageError(`Unknown preset '${flags.preset}'. Available: ${Object.keys(PRESETS).join(', ')}.`);
        base = { ...PRESETS[flags.preset]!.options };
      }
      if (typeof flags.config === 'string') base = { ...base, ...(await readJsonObject(flags.config, '--config')) };
    }
    const merged = { ...base, ...given, ...(typeof flags.resume === 'string' ? { out: flags.resume } : {}) };
    const config = parseTrainConfig(merged, flag);
    await importModules(config.import);

    const controller = new AbortController();
    const onSignal = () => {
      if (controller.signal.aborted) process.exit(130);
      console.error('\n[train] Ctrl-C: finishing this step and saving a checkpoint (press again to quit now)');
      controller.abort();
    };
    process.on('SIGINT', onSignal);
    const progress = new TrainingProgress(config.steps);
    try {
      const result = await train(
        { ...config, resume: typeof flags.resume === 'string', overwrite: flags.overwrite === true },
        {
          signal: controller.signal,
          log: (line) => progress.log(line),
          onStep: (record) => progress.update(record),
          progress: (phase, done, total) => progress.phase(phase, done, total),
        },
      );
      progress.stop();
      console.error(`\n${outcomeLines(result.before, result.after, result.paired)}`);
      const summary = {
        run: result.runDir,
        steps: result.steps,
        stopped_by: result.stoppedBy,
        before: result.before,
        after: result.after,
        paired: result.paired,
      };
      console.log(JSON.stringify(summary, null, 2));
    } finally {
      progress.stop();
      process.off('SIGINT', onSignal);
    }
  });
}

/** Reads a JSON object of options; `advice` (what to do) ends the message when the file is there but is not one. */
async function readJsonObject(path: string, flag: string, advice?: string): Promise<Record<string, unknown>> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new UsageError(
      `${flag}: cannot read ${path} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message}).`,
    );
  }
  const then = advice ? ` ${advice}` : '';
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new UsageError(`${flag}: ${path} is truncated or not JSON (${(error as Error).message}).${then}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new UsageError(`${flag}: ${path} is not a JSON object of options.${then}`);
  return value as Record<string, unknown>;
}
