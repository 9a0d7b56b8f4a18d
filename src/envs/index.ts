/** The environment layer: contract, registry, wrappers, checker, tasks. */
export * from './env.js';
export * from './actions.js';
export * from './registry.js';
export * from './wrappers.js';
export * from './check.js';
export * from './task.js';
export { type GeneratedCorpusLimits, setGeneratedCorpusLimits } from './search/limits.js';
import './builtin.js';
