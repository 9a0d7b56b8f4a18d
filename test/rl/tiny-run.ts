/** The trainer tests' tiny IGPO run: guess-number at difficulty 1, two tasks of three a step, a one-layer policy on the cpu backend. */
export const TINY_RUN = {
  env: 'puzzle/guess-number-v0',
  difficulty: 1,
  model: { layers: 1, width: 32, heads: 2, contextLength: 128 },
  tasksPerStep: 2,
  groupSize: 3,
  curriculum: { kind: 'fixed' as const, maxTurns: 3 },
  maxActionTokens: 8,
  evalEpisodes: 0,
  checkpointEvery: 0,
  advantage: 'igpo' as const,
  backend: 'cpu' as const,
  seed: 5,
  learningRate: 3e-3,
};
