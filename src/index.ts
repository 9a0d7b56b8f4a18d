/**
 * turngym: a gym for training multi-turn, tool-using agents with reinforcement learning.
 *
 *   import { make, list, checkEnv } from 'turngym';
 *   const env = await make('puzzle/guess-number-v0', { difficulty: 4 });
 *
 *   import { train } from 'turngym';
 *   await train({ env: 'puzzle/guess-number-v0', warmStartSteps: 150, steps: 30, out: 'runs/mine' });
 */
export * from './core/errors.js';
export { Rng } from './core/rng.js';
export * from './envs/index.js';
export * from './agent/index.js';
export * from './envs/remote/index.js';
export * from './agent/remote/index.js';
export * from './agent/policy/index.js';
export * from './rl/index.js';
export { z } from 'zod';
