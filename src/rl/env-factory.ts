/**
 * Where a training run's envs come from: the registry in this process, or env servers through a
 * {@link RemotePool} (`turngym train --remote`, docs/scaling.md).
 */
import type { Env } from '../envs/env.js';
import { make as makeLocal } from '../envs/registry.js';
import { RemotePool, type RemotePoolOptions } from '../envs/remote/pool.js';

/** How a trainer makes its envs: in this process (the registry's `make`), or on env servers through a pool. */
export interface EnvFactory {
  /** Makes an env (wrapped as `make` wraps it; `maxTurns` is the default horizon). */
  make(id: string, kwargs: Record<string, unknown>, options: { maxTurns?: number }): Promise<Env>;
  /** Frees what the factory holds (the pool's connections). Close the envs first. */
  close(): Promise<void>;
  /** The pool, when envs are remote (for status and tests). */
  readonly pool: RemotePool | undefined;
}

/**
 * The env factory of a training run: with no endpoints, envs are made in this process; with endpoints, on
 * those env servers through a {@link RemotePool} (ground truth fetched at reset when `groundTruth` is set).
 */
export async function envFactory(endpoints: readonly string[], options: RemotePoolOptions = {}): Promise<EnvFactory> {
  if (endpoints.length === 0) {
    return { make: (id, kwargs, wrap) => makeLocal(id, kwargs, wrap), close: async () => {}, pool: undefined };
  }
  const pool = await RemotePool.connect(endpoints, options);
  options.log?.(`[train] rollouts run on ${pool.status().length} env server(s): ${pool.status().map((endpoint) => `${endpoint.url} (${endpoint.state})`).join(', ')}`);
  return { make: (id, kwargs, wrap) => pool.make(id, kwargs, wrap), close: () => pool.close(), pool };
}
