/**
 * turngym: a gym for training multi-turn, tool-using agents with reinforcement learning.
 *
 *   import { make, list, checkEnv } from 'turngym';
 *   const env = await make('puzzle/guess-number-v0', { difficulty: 4 });
 */
export * from './envs/index.js';
export * from './agent/index.js';
export * from './agent/remote/index.js';
export { z } from 'zod';
