/**
 * `turngym sft --env ID [--episodes N] [--steps N] --out DIR`: supervised warm start. The env's oracle plays
 * the training seeds, a tokenizer and a fresh policy are fitted to its demonstrations (loss on action tokens
 * only), the policy is evaluated on held-out seeds (tasks of the held-out split: for suites with a split key,
 * never a training question), and the checkpoint and a report.json go to DIR. Its flags are behaviour
 * cloning's settings (src/agent/policy/sft.ts) and the model shape (src/agent/policy/model.ts), one flag each.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Command } from 'commander';
import { z } from 'zod';
import { formatSuccessRate } from '../agent/agent.js';
import { initBackend } from '../agent/policy/backend.js';
import { saveCheckpoint } from '../agent/policy/checkpoint.js';
import { checkModelShape, modelShapeSchema } from '../agent/policy/model.js';
import { behaviourCloning, sftOptionsSchema } from '../agent/policy/sft.js';
import { importModules, printJson } from './common.js';
import { addSchemaOptions, FLAGS, kwargsOf, parseFlags } from './options.js';
import { Progress } from './progress.js';

/** The model shape's fields, a flag each (`--context` for contextLength; the MLP's width keeps its default). */
const shapeFlags = modelShapeSchema.omit({ contextLength: true, ffnWidth: true }).shape;
const SHAPE_FLAGS = Object.keys(shapeFlags) as (keyof typeof shapeFlags)[];
const sftFlagsSchema = sftOptionsSchema
  .omit({ model: true, maxVocab: true, evalTemperature: true, evalSamples: true })
  .extend({
    out: z.string().describe('Checkpoint directory to write (created)').meta({ placeholder: 'dir' }),
    ...shapeFlags,
    context: modelShapeSchema.shape.contextLength,
    difficulty: FLAGS.difficulty,
    backend: FLAGS.backend,
    json: z.boolean().default(false).describe('Print only the JSON report on stdout'),
    import: FLAGS.import,
  });

export function sftCommand(program: Command): void {
  const command = program
    .command('sft')
    .description('supervised warm start: behaviour cloning on oracle demonstrations, then a held-out evaluation');
  addSchemaOptions(command, sftFlagsSchema).action(async (flags: Record<string, unknown>) => {
    const {
      out,
      context,
      kwargs,
      difficulty,
      backend,
      json,
      import: modules,
      ...rest
    } = parseFlags(flags, sftFlagsSchema);
    const shape = Object.fromEntries(SHAPE_FLAGS.map((name) => [name, rest[name]])) as Pick<
      typeof rest,
      (typeof SHAPE_FLAGS)[number]
    >;
    const settings = Object.fromEntries(
      Object.entries(rest).filter(([name]) => !(SHAPE_FLAGS as string[]).includes(name)),
    ) as Omit<typeof rest, (typeof SHAPE_FLAGS)[number]>;
    // A shape no model can have is refused now, not after the demonstrations.
    checkModelShape(shape);
    await importModules(modules);
    await initBackend(backend);
    const progress = new Progress('sft');
    const { policy, report } = await behaviourCloning({
      ...settings,
      kwargs: kwargsOf({ kwargs, difficulty }),
      model: { ...shape, contextLength: context },
      log: (line) => progress.log(line),
      progress: (phase, done, total) => progress.phase(phase, done, total),
    }).finally(() => progress.stop());
    try {
      await saveCheckpoint(policy, out, { sft: report });
      await writeFile(join(out, 'report.json'), `${JSON.stringify(report, null, 2)}\n`);
    } finally {
      policy.dispose();
    }
    if (json) printJson(report);
    else {
      console.log(
        `saved ${out}: held-out success ${formatSuccessRate(report.heldout.success_rate)} on ${report.heldout.episodes} episodes (mean turns ${report.heldout.mean_turns.toFixed(2)}); final loss ${report.final_loss}; ${report.steps} steps in ${report.seconds} s (${report.tokens_per_s} tokens/s)`,
      );
    }
  });
}
