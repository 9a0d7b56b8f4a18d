/**
 * `turngym eval --checkpoint DIR --env ID --episodes N [--json]`: plays episodes with a saved policy
 * (batched) and reports success rate, mean return and mean turns. Seeds start at 1,000,000 by default, the
 * held-out range that `turngym sft` never trains on, and tasks come from the 'heldout' split (`--split train`
 * plays training questions instead, to measure what the policy memorised).
 */
import { type Command, Option } from 'commander';
import { BACKENDS, type BackendName, initBackend } from '../agent/policy/backend.js';
import { loadCheckpoint } from '../agent/policy/checkpoint.js';
import { evaluatePolicy, HELDOUT_SEED_BASE } from '../agent/policy/sft.js';
import { SPLITS, type Split } from '../envs/task.js';
import { collect, importModules, integer, jsonObject, printJson, UsageError } from './common.js';

interface EvalFlags {
  checkpoint: string;
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
      const policy = await loadCheckpoint(flags.checkpoint);
      try {
        const { report } = await evaluatePolicy(policy, flags.env, { episodes: flags.episodes, kwargs, firstSeed: flags.seed, split: flags.split, temperature: flags.temperature, maxTurns: flags.maxTurns });
        const result = { checkpoint: flags.checkpoint, ...report };
        if (flags.json) printJson(result);
        else console.log(`${report.episodes} episodes of ${report.env} · success rate ${report.success_rate.toFixed(3)} · mean return ${report.mean_return.toFixed(3)} · mean turns ${report.mean_turns.toFixed(2)} (at most ${report.max_turns})`);
      } finally {
        policy.dispose();
      }
    });
}

function temperature(value: string): number {
  const parsed = Number(value);
  if (value.trim() === '' || !Number.isFinite(parsed) || parsed < 0) throw new UsageError(`--temperature must be a number >= 0, got '${value}'.`);
  return parsed;
}
