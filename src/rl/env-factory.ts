/**
 * Where a training run's envs come from: the registry in this process, or env servers through a
 * {@link RemotePool} (`turngym train --remote`, docs/scaling.md). Either way an env wears the standard wrappers.
 */
import type { Env } from '../envs/env.js';
import { make as makeLocal } from '../envs/registry.js';
import { RemotePool, type RemotePoolOptions } from '../envs/remote/pool.js';
import type { WrapOptions } from '../envs/wrappers.js';

/** How a trainer makes its envs: in this process (the registry's `make`), or on env servers through a pool. */
export interface EnvFactory {
  /** Makes an env in the standard wrapper stack (`options.maxTurns`: the default horizon). */
  make(id: string, kwargs: Record<string, unknown>, options: WrapOptions): Promise<Env>;
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
  if (endpoints.length === 0) return { make: makeLocal, close: async () => {}, pool: undefined };
  const pool = await RemotePool.connect(endpoints, options);
  options.log?.(
    `[train] rollouts run on ${pool.status().length} env server(s): ${pool
      .status()
      .map((endpoint) => `${endpoint.url} (${endpoint.state})`)
      .join(', ')}`,
  );
  return { make: (id, kwargs, wrapOptions) => pool.make(id, kwargs, wrapOptions), close: () => pool.close(), pool };
}
