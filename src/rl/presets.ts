/**
 * Named training presets: `turngym train --preset NAME` (flags given next to it override the preset).
 * `quickstart` is what `npm start` runs. The `exp-*` presets are the runs of docs/experiments.md.
 */
import type { TrainOptions } from './config.js';

export interface Preset {
  description: string;
  options: TrainOptions;
}

/** Settings shared by the search presets: 1- and 2-hop questions over a small knowledge base. */
const search: TrainOptions = {
  env: 'search/multihop-v0',
  envKwargs: { size: 300 },
  difficulty: 1,
  model: { layers: 2, width: 128, heads: 4, contextLength: 320 },
};

export const PRESETS: Record<string, Preset> = {
  quickstart: {
    description: 'npm start: warm start, then RL with ScalingInter, Clip-Cov and IGPO on 1-hop search (about 10 minutes on 2 cores)',
    options: {
      ...search,
      out: 'runs/quickstart',
      warmStartSteps: 120,
      warmStartEpisodes: 200,
      steps: 12,
      tasksPerStep: 4,
      groupSize: 4,
      curriculum: { kind: 'scaling-inter', stages: [3, 4, 5], every: 4 },
      advantage: 'igpo',
      entropyControl: 'clip-cov',
      clipCovRatio: 0.02,
      learningRate: 2e-4,
      temperature: 1,
      evalEpisodes: 40,
      checkpointEvery: 4,
    },
  },
  'guess-number': {
    description: 'puzzle/guess-number-v0 (difficulty 3): warm start, then GRPO with Clip-Cov',
    options: {
      env: 'puzzle/guess-number-v0',
      difficulty: 3,
      out: 'runs/guess-number',
      model: { layers: 2, width: 96, heads: 4, contextLength: 192 },
      warmStartSteps: 150,
      warmStartEpisodes: 200,
      steps: 30,
      tasksPerStep: 4,
      groupSize: 6,
      advantage: 'grpo',
      entropyControl: 'clip-cov',
      clipCovRatio: 0.02,
      learningRate: 3e-4,
      evalEpisodes: 64,
      checkpointEvery: 10,
    },
  },
  'code-calc': {
    description: 'code/calc-v0 (difficulty 1): warm start, then GRPO with Clip-Cov',
    options: {
      env: 'code/calc-v0',
      difficulty: 1,
      out: 'runs/code-calc',
      model: { layers: 2, width: 128, heads: 4, contextLength: 384 },
      maxActionTokens: 48,
      warmStartSteps: 150,
      steps: 20,
      tasksPerStep: 4,
      groupSize: 4,
      advantage: 'grpo',
      entropyControl: 'clip-cov',
      clipCovRatio: 0.02,
      evalEpisodes: 32,
    },
  },
};

/** The preset of a name, or a usage error listing them. */
export function presetOptions(name: string): TrainOptions {
  const preset = PRESETS[name];
  if (!preset) {
    throw new Error(`Unknown preset '${name}'. Available: ${Object.keys(PRESETS).join(', ')}.`);
  }
  return preset.options;
}
