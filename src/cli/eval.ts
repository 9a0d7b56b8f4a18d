/**
 * `turngym eval --checkpoint DIR --env ID --episodes N [--baseline DIR] [--json]`: plays episodes with a saved
 * policy (batched) and reports success rate, mean return and mean turns. Seeds start at 1,000,000 by default,
 * the held-out range that `turngym sft` never trains on, and tasks come from the 'heldout' split (`--split
 * train` plays training questions instead, to measure what the policy memorised). With `--baseline`, a
 * second checkpoint (a warm start, say) plays the same tasks and the two are compared pair by pair
 * (src/agent/policy/paired.ts).
 */
import { type Command, Option } from 'commander';
import { BACKENDS, type BackendName, initBackend } from '../agent/policy/backend.js';
import { loadCheckpoint } from '../agent/policy/checkpoint.js';
import { comparePaired } from '../agent/policy/paired.js';
import { type EvaluationReport, evaluatePolicy, HELDOUT_SEED_BASE } from '../agent/policy/sft.js';
import { SPLITS, type Split } from '../envs/task.js';
import { collect, importModules, integer, jsonObject, printJson, UsageError } from './common.js';

interface EvalFlags {
  checkpoint: string;
  baseline?: string;
  env: string;
  episodes: number;
  seed: number;
  split: Split;
  temperature: number;
  maxTurns?: number;
  difficulty?: number;
  kwargs: Record<string, unknown>;
  backend: string;
  json?: boolean;
  import: string[];
}

export function evalCommand(program: Command): void {
  program
    .command('eval')
    .description('evaluate a policy checkpoint: success rate, mean return and mean turns')
    .requiredOption('--checkpoint <dir>', 'checkpoint directory (from turngym sft or train)')
    .requiredOption('--env <id>', 'environment id')
    .option('--baseline <dir>', 'a second checkpoint (e.g. the warm start) to play the same tasks; adds a paired comparison with exact sign tests')
    .option('--episodes <n>', 'number of episodes', integer('--episodes', { min: 1 }), 100)
    .option('--seed <s>', 'seed of the first episode (episode i uses seed + i)', integer('--seed', { min: 0 }), HELDOUT_SEED_BASE)
    .addOption(new Option('--split <split>', "which tasks to play: 'heldout' (never asked in training) or 'train' (for envs whose suite has a split key)").choices(SPLITS).default('heldout'))
    .option('--temperature <t>', 'sampling temperature; 0 is greedy', temperature, 0)
    .option('--max-turns <n>', "turn limit of each episode (default: the env's)", integer('--max-turns', { min: 1 }))
    .option('--difficulty <d>', 'task difficulty (the env decides the range)', integer('--difficulty'))
    .option('--kwargs <json>', 'env keyword arguments as a JSON object', jsonObject('--kwargs'), {})
    .option('--backend <name>', `TensorFlow.js backend: auto | ${BACKENDS.join(' | ')}`, 'auto')
    .option('--json', 'print a JSON report')
    .option('--import <module>', 'import a module that registers envs (repeatable)', collect, [])
    .action(async (flags: EvalFlags) => {
      await importModules(flags.import);
      await initBackend(flags.backend as BackendName | 'auto');
      const kwargs = { ...flags.kwargs, ...(flags.difficulty !== undefined ? { difficulty: flags.difficulty } : {}) };
      const evaluate = async (checkpoint: string) => {
        const policy = await loadCheckpoint(checkpoint);
        try {
          const options = { episodes: flags.episodes, kwargs, firstSeed: flags.seed, split: flags.split, temperature: flags.temperature, maxTurns: flags.maxTurns };
          return await evaluatePolicy(policy, flags.env, options);
        } finally {
          policy.dispose();
        }
      };
      const line = (report: EvaluationReport) =>
        `success rate ${report.success_rate.toFixed(3)} · mean return ${report.mean_return.toFixed(3)} · mean turns ${report.mean_turns.toFixed(2)} (at most ${report.max_turns})`;
      const { report, transcripts } = await evaluate(flags.checkpoint);
      if (flags.baseline === undefined) {
        if (flags.json) printJson({ checkpoint: flags.checkpoint, ...report });
        else console.log(`${report.episodes} episodes of ${report.env} · ${line(report)}`);
        return;
      }
      const baseline = await evaluate(flags.baseline);
      const paired = comparePaired(transcripts, baseline.transcripts);
      if (flags.json) {
        printJson({ checkpoint: flags.checkpoint, ...report, baseline: { checkpoint: flags.baseline, ...baseline.report }, paired });
        return;
      }
      const p = (value: number) => (value < 0.001 ? value.toExponential(1) : value.toFixed(3));
      console.log(`${report.episodes} episodes of ${report.env}, the same tasks for both (${report.temperature === 0 ? 'greedy' : `sampled at T ${report.temperature}`})`);
      console.log(`  checkpoint ${flags.checkpoint}: ${line(report)}`);
      console.log(`  baseline   ${flags.baseline}: ${line(baseline.report)}`);
      console.log(`  solved by the checkpoint only: ${paired.solved_newly}, by the baseline only: ${paired.solved_no_longer} (sign test p = ${p(paired.success_p)})`);
      console.log(`  return higher on ${paired.return_higher} tasks, lower on ${paired.return_lower} (sign test p = ${p(paired.return_p)})`);
    });
}

function temperature(value: string): number {
  const parsed = Number(value);
  if (value.trim() === '' || !Number.isFinite(parsed) || parsed < 0) throw new UsageError(`--temperature must be a number >= 0, got '${value}'.`);
  return parsed;
}
