/**
 * `turngym eval --checkpoint DIR --env ID --episodes N [--baseline DIR] [--json]`: plays episodes with a saved
 * policy (batched) and reports success rate, mean return and mean turns. Seeds start at 1,000,000 by default,
 * the held-out range that `turngym sft` never trains on, and tasks come from the 'heldout' split (`--split
 * train` plays training questions instead, to measure what the policy memorised). With `--baseline`, a
 * second checkpoint (a warm start, say) plays the same tasks and the two are compared pair by pair
 * (src/agent/policy/paired.ts); `--baseline` also takes the file an earlier `eval --json` of that checkpoint
 * wrote, so a warm start evaluated once is compared with every checkpoint of a run. `--samples K` (with a
 * temperature) plays each task K times: the success rate is then the policy's expected success at that
 * temperature, measured K times more precisely, and the comparison's sign test runs over tasks on the
 * fraction of plays each solved.
 */
import { readFile, stat } from 'node:fs/promises';
import type { Command } from 'commander';
import { z } from 'zod';
import { formatSuccessRate } from '../agent/agent.js';
import { initBackend } from '../agent/policy/backend.js';
import { loadCheckpoint } from '../agent/policy/checkpoint.js';
import { checkpointOf } from '../rl/run-directory.js';
import {
  comparePaired,
  formatPValue,
  type EpisodeOutcome,
  indicesByKind,
  kindsWithVariants,
  type PairedComparison,
  summarizeByKind,
  taskSettingDifference,
} from '../agent/policy/paired.js';
import { type EvaluationReport, evaluatePolicy, HELDOUT_SEED_BASE } from '../agent/policy/evaluate.js';
import { SPLITS, type Split } from '../envs/task.js';
import { importModules, printJson } from './common.js';
import { UsageError } from '../core/errors.js';
import { addSchemaOptions, FLAGS, kwargsOf, parseFlags } from './options.js';
import { Progress } from './progress.js';

const evalFlagsSchema = z
  .object({
    checkpoint: z
      .string()
      .describe('Checkpoint directory (from turngym sft or train), or a run directory: its latest checkpoint')
      .meta({ placeholder: 'dir' }),
    env: FLAGS.env,
    baseline: z
      .string()
      .optional()
      .describe(
        'A second checkpoint (e.g. the warm start) to play the same tasks, or the file an earlier `eval --json` of it on the same tasks wrote; adds a paired comparison with exact sign tests',
      )
      .meta({ placeholder: 'path' }),
    episodes: z.number().int().min(1).default(100).describe('Number of episodes (tasks)'),
    samples: z
      .number()
      .int()
      .min(1)
      .default(1)
      .describe(
        'Plays of each task, sampled (needs --temperature above 0): success becomes the mean over tasks of the fraction of plays solved',
      ),
    seed: z
      .number()
      .int()
      .min(0)
      .default(HELDOUT_SEED_BASE)
      .describe('Seed of the first episode (episode i uses seed + i)'),
    split: z
      .enum(SPLITS)
      .default('heldout')
      .describe(
        "Which tasks to play: 'heldout' (never asked in training) or 'train' (for envs whose suite has a split key)",
      ),
    temperature: z.number().min(0).default(0).describe('Sampling temperature; 0 is greedy'),
    maxTurns: z.number().int().min(1).optional().describe("Turn limit of each episode (default: the env's)"),
    difficulty: FLAGS.difficulty,
    kwargs: FLAGS.kwargs,
    backend: FLAGS.backend,
    json: z.boolean().default(false).describe('Print a JSON report'),
    record: z
      .string()
      .optional()
      .describe(
        "Append every episode of the checkpoint (not the baseline's) to this JSONL file: the task, each action and observation, as `turngym run --record` writes them",
      )
      .meta({ placeholder: 'file' }),
    byVariant: z
      .boolean()
      .default(false)
      .describe(
        "Break the figures down by each kind's variant too (e.g. `roman lower=true`), for envs that report them",
      ),
    import: FLAGS.import,
  })
  .strict()
  .superRefine(({ samples, temperature }, context) => {
    if (samples > 1 && temperature === 0) {
      const message = `--samples ${samples} plays each task ${samples} times, which only differs when sampling: add --temperature (e.g. the temperature the policy was trained at)`;
      context.addIssue({ code: 'custom', message });
    }
  });

export function evalCommand(program: Command): void {
  const command = program
    .command('eval')
    .description('evaluate a policy checkpoint: success rate, mean return and mean turns');
  addSchemaOptions(command, evalFlagsSchema).action(async (given: Record<string, unknown>) => {
    const flags = parseFlags(given, evalFlagsSchema);
    await importModules(flags.import);
    // A run directory stands for its latest checkpoint; resolved first, so a wrong path fails at once.
    const checkpoint = await checkpointOf(flags.checkpoint);
    await initBackend(flags.backend);
    const kwargs = kwargsOf(flags);
    // The labels the breakdown groups by: each task's kind, or with --by-variant its kind and variant.
    const grouped = (outcomes: EpisodeOutcome[]) => (flags.byVariant ? kindsWithVariants(outcomes) : outcomes);
    const evaluate = async (checkpoint: string, recordTo?: string): Promise<SavedEvaluation> => {
      const policy = await loadCheckpoint(checkpoint);
      const progress = new Progress('eval');
      try {
        const onProgress = (done: number, total: number) => progress.phase('held-out evaluation', done, total);
        const options = {
          episodes: flags.episodes,
          samples: flags.samples,
          kwargs,
          firstSeed: flags.seed,
          split: flags.split,
          temperature: flags.temperature,
          maxTurns: flags.maxTurns,
          recordTo,
          onProgress,
        };
        const { report, outcomes } = await evaluatePolicy(policy, flags.env, options);
        const byKind = summarizeByKind(grouped(outcomes));
        return { checkpoint, kwargs, ...report, ...(byKind ? { by_kind: byKind } : {}), outcomes };
      } finally {
        progress.stop();
        policy.dispose();
      }
    };
    const line = (report: SavedEvaluation) =>
      `success rate ${formatSuccessRate(report.success_rate)} · mean return ${report.mean_return.toFixed(3)} · mean turns ${report.mean_turns.toFixed(2)} (at most ${report.max_turns})` +
      (report.format_error_rate === undefined ? '' : ` · malformed turns ${report.format_error_rate.toFixed(3)}`) +
      (report.well_formed_episodes === undefined
        ? ''
        : ` · success ${report.well_formed_success_rate?.toFixed(3) ?? '-'} in the ${report.well_formed_episodes} episodes without one`);
    // A saved baseline is read and checked before the (long) evaluation, so a mismatch fails at once.
    const savedBaseline = flags.baseline === undefined ? undefined : await readSavedBaseline(flags.baseline);
    const tasks = {
      env: flags.env,
      kwargs,
      episodes: flags.episodes,
      samples: flags.samples,
      first_seed: flags.seed,
      split: flags.split,
      temperature: flags.temperature,
    };
    if (savedBaseline)
      checkSameTasks(
        flags.baseline!,
        savedBaseline,
        flags.maxTurns === undefined ? tasks : { ...tasks, max_turns: flags.maxTurns },
      );
    const saved = await evaluate(checkpoint, flags.record);
    if (flags.baseline === undefined) {
      if (flags.json) printJson(saved);
      else {
        console.log(`${plays(saved)} of ${saved.env} · ${line(saved)}`);
        printKinds(saved, grouped(saved.outcomes));
      }
      return;
    }
    if (savedBaseline) checkSameTasks(flags.baseline, savedBaseline, saved);
    const baseline = savedBaseline ?? (await evaluate(await checkpointOf(flags.baseline)));
    const paired = comparePaired(grouped(saved.outcomes), baseline.outcomes, { samples: saved.samples });
    if (flags.json) {
      const { outcomes: _, ...baselineSummary } = baseline;
      printJson({ ...saved, baseline: baselineSummary, paired });
      return;
    }
    console.log(
      `${plays(saved)} of ${saved.env}, the same tasks for both (${saved.temperature === 0 ? 'greedy' : `sampled at T ${saved.temperature}`})`,
    );
    console.log(`  checkpoint ${saved.checkpoint}: ${line(saved)}`);
    console.log(`  baseline   ${baseline.checkpoint}: ${line(baseline)}`);
    console.log(
      saved.samples === 1
        ? `  solved by the checkpoint only: ${paired.solved_newly}, by the baseline only: ${paired.solved_no_longer} (sign test p = ${formatPValue(paired.success_p)})`
        : `  tasks solved in more plays by the checkpoint: ${paired.solved_newly}, by the baseline: ${paired.solved_no_longer} (sign test p = ${formatPValue(paired.success_p)})`,
    );
    console.log(
      `  return higher on ${paired.return_higher} tasks, lower on ${paired.return_lower} (sign test p = ${formatPValue(paired.return_p)})`,
    );
    printKinds(saved, grouped(saved.outcomes), baseline, paired);
  });
}

/**
 * Success within each kind of task (`grouped`: the outcomes labelled by kind, or kind and variant), against
 * the baseline's on the same tasks when there is one. Nothing when the env reports no kinds.
 */
function printKinds(
  saved: SavedEvaluation,
  grouped: EpisodeOutcome[],
  baseline?: SavedEvaluation,
  paired?: PairedComparison,
): void {
  const kinds = indicesByKind(grouped);
  if (kinds.size === 0) return;
  const width = Math.max(4, ...[...kinds.keys()].map((kind) => kind.length));
  // Tasks solved; with several plays a task, plays solved divided by the plays a task (one decimal).
  const solved = (outcomes: EpisodeOutcome[], indices: number[]) => {
    const count = indices.filter((i) => outcomes[i]!.success).length / saved.samples;
    return saved.samples === 1 ? String(count) : count.toFixed(1);
  };
  const once = saved.samples === 1;
  const [solvedLabel, ofN] = once ? ['solved', 'of n'] : [`plays solved / ${saved.samples}`, 'of n tasks'];
  const discordant = once
    ? 'solved by the checkpoint only / by the baseline only'
    : 'tasks solved in more plays by the checkpoint / by the baseline';
  console.log(
    baseline
      ? `  by kind: ${solvedLabel} by the checkpoint / by the baseline (${ofN}); ${discordant} (sign test p)`
      : `  by kind: ${solvedLabel} (${ofN}), mean return`,
  );
  for (const [kind, indices] of kinds) {
    const name = `    ${kind.padEnd(width)}`;
    if (!baseline || !paired?.by_kind) {
      console.log(
        `${name}  ${solved(saved.outcomes, indices).padStart(4)} / ${indices.length / saved.samples}  ${saved.by_kind?.[kind]?.mean_return.toFixed(3) ?? ''}`,
      );
      continue;
    }
    const pairs = paired.by_kind[kind]!;
    console.log(
      `${name}  ${solved(saved.outcomes, indices).padStart(4)} / ${solved(baseline.outcomes, indices).padStart(4)} (of ${indices.length / saved.samples})  ${pairs.solved_newly} / ${pairs.solved_no_longer} (p = ${formatPValue(pairs.success_p)})`,
    );
  }
}

/** "N episodes", or "N tasks x K plays". */
function plays(saved: SavedEvaluation): string {
  return saved.samples === 1 ? `${saved.episodes} episodes` : `${saved.episodes} tasks x ${saved.samples} plays`;
}

/**
 * What `eval --json` prints: the report, the settings that decide the tasks, and every episode's outcome (in
 * seed order). The malformed-turn figures may be missing from a report saved before they existed.
 */
type MalformedFigures = 'format_error_rate' | 'well_formed_episodes' | 'well_formed_success_rate';
type SavedEvaluation = Omit<EvaluationReport, MalformedFigures> &
  Partial<Pick<EvaluationReport, MalformedFigures>> & {
    checkpoint: string;
    kwargs: Record<string, unknown>;
    outcomes: EpisodeOutcome[];
  };

const savedEvaluationSchema = z.object({
  checkpoint: z.string(),
  env: z.string(),
  kwargs: z.record(z.string(), z.unknown()),
  episodes: z.number(),
  samples: z.number().int().min(1).default(1), // reports saved before --samples played each task once
  first_seed: z.number(),
  split: z.enum(SPLITS),
  temperature: z.number(),
  max_turns: z.number(),
  success_rate: z.number().nullable(),
  mean_return: z.number(),
  mean_turns: z.number(),
  format_error_rate: z.number().optional(),
  well_formed_episodes: z.number().optional(),
  well_formed_success_rate: z.number().nullable().optional(),
  outcomes: z.array(
    z.object({ success: z.boolean(), return: z.number(), kind: z.string().optional(), variant: z.string().optional() }),
  ),
});

/** `--baseline PATH`: undefined for a checkpoint directory (to be evaluated), else the `eval --json` output it holds. */
async function readSavedBaseline(path: string): Promise<SavedEvaluation | undefined> {
  const isDirectory = await stat(path).then(
    (info) => info.isDirectory(),
    () => {
      throw new UsageError(
        `--baseline ${path} does not exist: give a checkpoint directory or the file \`turngym eval --json\` wrote.`,
      );
    },
  );
  if (isDirectory) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(await readFile(path, 'utf8'));
  } catch (error) {
    throw new UsageError(
      `--baseline ${path} is neither a checkpoint directory nor a JSON report: ${(error as Error).message}`,
    );
  }
  const result = savedEvaluationSchema.safeParse(parsed);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    throw new UsageError(
      `--baseline ${path} is not the output of \`turngym eval --json\` (${issue.path.join('.') || 'top level'}: ${issue.message}).`,
    );
  }
  const { outcomes, episodes, samples } = result.data;
  if (outcomes.length !== episodes * samples)
    throw new UsageError(
      `--baseline ${path} lists ${outcomes.length} outcomes for ${episodes} episodes of ${samples} play(s) each.`,
    );
  return result.data;
}

/** Fails unless the saved baseline played the tasks `current` describes (the keys it has). */
function checkSameTasks(path: string, baseline: SavedEvaluation, current: Partial<SavedEvaluation>): void {
  const difference = taskSettingDifference(baseline, current);
  if (difference)
    throw new UsageError(
      `--baseline ${path} played other tasks: its ${difference.key} is ${difference.was}, this evaluation's is ${difference.now}. Evaluate both with the same --env, --kwargs, --difficulty, --episodes, --samples, --seed, --split, --temperature and --max-turns.`,
    );
}
