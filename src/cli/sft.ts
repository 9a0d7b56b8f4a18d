/**
 * `turngym sft --env ID [--episodes N] [--steps N] --out DIR`: supervised warm start. The env's oracle plays
 * the training seeds, a tokenizer and a fresh policy are fitted to its demonstrations (loss on action tokens
 * only), the policy is evaluated on held-out seeds (tasks of the held-out split: for suites with a split key,
 * never a training question), and the checkpoint and a report.json go to DIR.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type Command, Option } from 'commander';
import { formatSuccessRate } from '../agent/agent.js';
import { BACKENDS, type BackendName, initBackend } from '../agent/policy/backend.js';
import { saveCheckpoint } from '../agent/policy/checkpoint.js';
import { NUMBER_PIECES, type NumberPieces } from '../agent/policy/tokenizer.js';
import { SFT_DEFAULTS, behaviourCloning } from '../agent/policy/sft.js';
import { collect, importModules, integer, jsonObject, printJson } from './common.js';
import { UsageError } from '../core/errors.js';
import { Progress } from './progress.js';

interface SftFlags {
  env: string;
  out: string;
  episodes: number;
  steps: number;
  evalEpisodes: number;
  batchTokens: number;
  learningRate: number;
  layers?: number;
  width?: number;
  heads?: number;
  context?: number;
  tiedEmbeddings?: boolean;
  maxActionTokens?: number;
  numbers: NumberPieces;
  difficulty?: number;
  kwargs: Record<string, unknown>;
  seed: number;
  backend: string;
  json?: boolean;
  import: string[];
}

export function sftCommand(program: Command): void {
  program
    .command('sft')
    .description('supervised warm start: behaviour cloning on oracle demonstrations, then a held-out evaluation')
    .requiredOption('--env <id>', 'environment id, e.g. puzzle/guess-number-v0')
    .requiredOption('--out <dir>', 'checkpoint directory to write (created)')
    .option('--episodes <n>', 'oracle demonstrations (training seeds 0..n-1)', integer('--episodes', { min: 1 }), SFT_DEFAULTS.episodes)
    .option('--steps <n>', 'optimizer steps', integer('--steps', { min: 1 }), SFT_DEFAULTS.steps)
    .option('--eval-episodes <n>', 'held-out episodes (seeds from 1,000,000, tasks of the held-out split)', integer('--eval-episodes', { min: 1 }), 100)
    .option('--batch-tokens <n>', 'tokens per batch (sequences x padded length)', integer('--batch-tokens', { min: 64 }), SFT_DEFAULTS.batchTokens)
    .option('--learning-rate <x>', 'peak learning rate', number('--learning-rate'), SFT_DEFAULTS.learningRate)
    .option('--layers <n>', 'transformer blocks (default 2)', integer('--layers', { min: 1 }))
    .option('--width <n>', 'model width (default 128)', integer('--width', { min: 8 }))
    .option('--heads <n>', 'attention heads (default 4)', integer('--heads', { min: 1 }))
    .option('--context <n>', 'context length in tokens (default 256)', integer('--context', { min: 16 }))
    .option('--tied-embeddings', 'compute logits with the token embedding instead of a separate output head, as GPT-2 does')
    .option('--max-action-tokens <n>', 'most tokens per action (default 48)', integer('--max-action-tokens', { min: 4 }))
    .addOption(
      new Option('--numbers <how>', 'how the tokenizer splits numbers: whole (up to six digits, one token) or digits (one token a digit, so a number copied from the task or an output is the same tokens)')
        .choices(NUMBER_PIECES)
        .default('whole'),
    )
    .option('--difficulty <d>', 'task difficulty (the env decides the range)', integer('--difficulty'))
    .option('--kwargs <json>', 'env keyword arguments as a JSON object', jsonObject('--kwargs'), {})
    .option('--seed <s>', 'seed of the weights and batch order', integer('--seed', { min: 0 }), 0)
    .option('--backend <name>', `TensorFlow.js backend: auto | ${BACKENDS.join(' | ')}`, 'auto')
    .option('--json', 'print only the JSON report on stdout')
    .option('--import <module>', 'import a module that registers envs (repeatable)', collect, [])
    .action(async (flags: SftFlags) => {
      await importModules(flags.import);
      await initBackend(flags.backend as BackendName | 'auto');
      const kwargs = { ...flags.kwargs, ...(flags.difficulty !== undefined ? { difficulty: flags.difficulty } : {}) };
      const model = {
        ...(flags.layers !== undefined ? { layers: flags.layers } : {}),
        ...(flags.width !== undefined ? { width: flags.width } : {}),
        ...(flags.heads !== undefined ? { heads: flags.heads } : {}),
        ...(flags.context !== undefined ? { contextLength: flags.context } : {}),
        ...(flags.tiedEmbeddings ? { tiedEmbeddings: true } : {}),
      };
      const progress = new Progress('sft');
      const { policy, report } = await behaviourCloning({
        env: flags.env,
        kwargs,
        episodes: flags.episodes,
        steps: flags.steps,
        evalEpisodes: flags.evalEpisodes,
        batchTokens: flags.batchTokens,
        learningRate: flags.learningRate,
        model,
        maxActionTokens: flags.maxActionTokens,
        numbers: flags.numbers,
        seed: flags.seed,
        log: (line) => progress.log(line),
        progress: (phase, done, total) => progress.phase(phase, done, total),
      }).finally(() => progress.stop());
      try {
        await saveCheckpoint(policy, flags.out, { sft: report });
        await writeFile(join(flags.out, 'report.json'), `${JSON.stringify(report, null, 2)}\n`);
      } finally {
        policy.dispose();
      }
      if (flags.json) printJson(report);
      else {
        console.log(
          `saved ${flags.out}: held-out success ${formatSuccessRate(report.heldout.success_rate)} on ${report.heldout.episodes} episodes (mean turns ${report.heldout.mean_turns.toFixed(2)}); final loss ${report.final_loss}; ${report.steps} steps in ${report.seconds} s (${report.tokens_per_s} tokens/s)`,
        );
      }
    });
}

/** Parses a positive number option. */
function number(name: string) {
  return (value: string): number => {
    const parsed = Number(value);
    if (value.trim() === '' || !Number.isFinite(parsed) || parsed <= 0) throw new UsageError(`${name} must be a positive number, got '${value}'.`);
    return parsed;
  };
}
