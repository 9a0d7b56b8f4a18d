/**
 * Named training presets: `turngym train --preset NAME` (flags given next to it override the preset).
 * `quickstart` is what `npm start` runs. The `exp-*` presets are the runs of docs/experiments.md.
 */
import type { TrainOptions } from './config.js';

export interface Preset {
  description: string;
  options: TrainOptions;
}

/**
 * The search setting of `npm start`: 1-hop questions about a small world generated for each episode (100,000
 * worlds; held-out questions are about worlds no training episode saw), three results of 120-character snippets,
 * and a policy that reads them: a copy head that points at the context (seeing the two tokens before each
 * position, and `&` in organisations' names), digits and subword pieces for names never seen, and a context of 512
 * tokens that holds a whole episode (the tool list, the same in every episode, left out). docs/experiments.md,
 * sections 25 to 35.
 */
const search: TrainOptions = {
  env: 'search/multihop-v0',
  kwargs: { size: 40, worlds: 100_000, results: 3, snippetChars: 120 },
  difficulty: 1,
  model: {
    layers: 2,
    width: 128,
    heads: 4,
    contextLength: 512,
    copy: true,
    copyPrevious: 2,
    copyPunctuation: '&',
    toolsInContext: false,
  },
  numbers: 'digits',
  subwords: 400,
  maxActionTokens: 40,
  curriculum: { kind: 'fixed', maxTurns: 4 },
};

/**
 * The runs of docs/experiments.md. They start from shared warm-start checkpoints (made first with
 * `turngym sft`, see the doc) so that the runs of one experiment differ only in what the experiment varies.
 */
const guessNumber3: TrainOptions = {
  env: 'puzzle/guess-number-v0',
  difficulty: 3,
  init: 'runs/exp-gn3-sft',
  steps: 30,
  tasksPerStep: 4,
  groupSize: 6,
  advantage: 'grpo',
  learningRate: 3e-4,
  epochs: 2,
  evalEpisodes: 100,
  checkpointEvery: 0,
};
const guessNumber5: TrainOptions = {
  ...guessNumber3,
  difficulty: 5,
  init: 'runs/exp-gn5-sft',
  entropyControl: 'clip-cov',
  clipCovRatio: 0.02,
};

function experiment(description: string, options: TrainOptions): Preset {
  return { description, options };
}

const EXPERIMENTS: Record<string, Preset> = {
  'exp-entropy-none': experiment('Experiment 1: PPO-clip without entropy control (guess-number, difficulty 3)', {
    ...guessNumber3,
    entropyControl: 'none',
    out: 'runs/exp-entropy-none',
  }),
  'exp-entropy-clip-cov': experiment('Experiment 1: Clip-Cov, ratio 0.02 (guess-number, difficulty 3)', {
    ...guessNumber3,
    entropyControl: 'clip-cov',
    clipCovRatio: 0.02,
    out: 'runs/exp-entropy-clip-cov',
  }),
  'exp-entropy-kl-cov': experiment('Experiment 1: KL-Cov, ratio 0.02, coef 0.1 (guess-number, difficulty 3)', {
    ...guessNumber3,
    entropyControl: 'kl-cov',
    klCovRatio: 0.02,
    out: 'runs/exp-entropy-kl-cov',
  }),
  'exp-horizon-scaling': experiment(
    'Experiment 3: ScalingInter [4, 6, 10] every 10 steps (guess-number, difficulty 5: 1..128)',
    {
      ...guessNumber5,
      curriculum: { kind: 'scaling-inter', stages: [4, 6, 10], every: 10 },
      out: 'runs/exp-horizon-scaling',
    },
  ),
  'exp-horizon-short': experiment('Experiment 3: fixed short horizon of 4 turns (guess-number, difficulty 5)', {
    ...guessNumber5,
    curriculum: { kind: 'fixed', maxTurns: 4 },
    out: 'runs/exp-horizon-short',
  }),
  'exp-horizon-long': experiment('Experiment 3: fixed long horizon of 10 turns (guess-number, difficulty 5)', {
    ...guessNumber5,
    curriculum: { kind: 'fixed', maxTurns: 10 },
    out: 'runs/exp-horizon-long',
  }),
  // Experiment 4's GRPO arm is exp-entropy-clip-cov: the same run with outcome advantages.
  'exp-ig-igpo': experiment(
    'Experiment 4: IGPO turn rewards with Clip-Cov (guess-number, difficulty 3); its GRPO twin is exp-entropy-clip-cov',
    {
      ...guessNumber3,
      advantage: 'igpo',
      entropyControl: 'clip-cov',
      clipCovRatio: 0.02,
      out: 'runs/exp-ig-igpo',
    },
  ),
};

export const PRESETS: Record<string, Preset> = {
  quickstart: {
    description:
      'npm start: behaviour cloning on oracle demonstrations from many generated worlds, then GRPO on 1-hop search; held-out success before and after RL on the same 500 questions about unseen worlds, paired (about 10 minutes on 2 cores)',
    options: {
      ...search,
      out: 'runs/quickstart',
      warmStartSteps: 300,
      warmStartEpisodes: 3000,
      warmStartBatchTokens: 4096,
      steps: 8,
      tasksPerStep: 32,
      groupSize: 8,
      temperature: 1,
      advantage: 'grpo',
      formatPenalty: 0.1,
      formatPenaltyOn: 'turn',
      klCoef: 0.1,
      entropyControl: 'none',
      learningRate: 2e-4,
      epochs: 2,
      miniBatches: 4,
      miniBatchBy: 'group',
      evalEpisodes: 500,
      checkpointEvery: 0,
    },
  },
  'guess-number': {
    description:
      'puzzle/guess-number-v0 (difficulty 2: 1..16, 5 turns): warm start, then GRPO with 256 episodes a step; held-out success rises clearly above the warm start (docs/experiments.md, section 7; about 20 minutes on 2 cores)',
    options: {
      env: 'puzzle/guess-number-v0',
      difficulty: 2,
      out: 'runs/guess-number',
      model: { layers: 2, width: 96, heads: 4, contextLength: 192 },
      warmStartSteps: 100,
      warmStartEpisodes: 200,
      curriculum: { kind: 'fixed', maxTurns: 5 },
      steps: 40,
      tasksPerStep: 32,
      groupSize: 8,
      advantage: 'grpo',
      formatPenalty: 0,
      entropyControl: 'none',
      learningRate: 1e-3,
      epochs: 2,
      miniBatches: 4,
      evalEpisodes: 200,
      checkpointEvery: 10,
    },
  },
  ...EXPERIMENTS,
};
