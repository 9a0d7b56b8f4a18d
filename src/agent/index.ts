/** The agent layer: the Agent interface, the episode runner, baselines, agents by name (`createAgent`). */
export * from './agent.js';
export * from './baselines.js';
export * from './resolve.js';
