/** The agent layer: the Agent interface, the episode player and its record, baselines, agents by name (`createAgent`). */
export * from './agent.js';
export * from './player.js';
export * from './baselines.js';
export * from './resolve.js';
