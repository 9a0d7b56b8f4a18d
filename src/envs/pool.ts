/**
 * EnvPool: N envs stepped concurrently, with autoreset. One env's failure never stops the others: its slot
 * reports the error, the env is recreated, and the next call starts a fresh episode there.
 */
import type { Action, Env, ResetResult, StepResult } from './env.js';
import { describeError, TurngymError } from '../core/errors.js';
import { Rng } from '../core/rng.js';

/** The result of one slot of `EnvPool.step`. */
export type PoolStepResult =
  | (StepResult & {
      ok: true;
      index: number;
      /**
       * With autoreset, when this step ended the episode: the first observation of the next episode
       * (already reset). `observation` is still the final observation of the episode that ended.
       */
      next?: ResetResult;
    })
  | { ok: false; index: number; error: TurngymError; next?: ResetResult };

export interface EnvPoolOptions {
  /** Builds the env of slot `index` (called again to replace a failed env). */
  create: (index: number) => Promise<Env>;
  /** Number of envs. */
  size: number;
  /** Seeds of successive episodes are drawn from this; the same seed gives the same sequence of tasks. */
  seed?: number;
  /** Reset a slot as soon as its episode ends (default true). */
  autoreset?: boolean;
  /** Options passed to every reset (e.g. `{ difficulty: 4 }`). */
  resetOptions?: Record<string, unknown>;
}

export class EnvPool {
  private envs: Env[] = [];
  private readonly seeds: Rng;
  private readonly autoreset: boolean;
  /** Slots whose env must be reset before stepping (new, ended without autoreset, or failed). */
  private readonly needsReset = new Set<number>();

  private constructor(private readonly options: EnvPoolOptions) {
    this.seeds = Rng.fromSeed(options.seed ?? 0);
    this.autoreset = options.autoreset ?? true;
  }

  /** Creates the pool's envs concurrently. */
  static async create(options: EnvPoolOptions): Promise<EnvPool> {
    if (!Number.isInteger(options.size) || options.size < 1) {
      throw new TurngymError('INVALID_OPTIONS', `EnvPool size must be a positive integer, got ${options.size}`);
    }
    const pool = new EnvPool(options);
    pool.envs = await Promise.all(Array.from({ length: options.size }, (_, index) => options.create(index)));
    return pool;
  }

  get size(): number {
    return this.envs.length;
  }

  /** The env of a slot (for privileged access such as `groundTruth()`). */
  env(index: number): Env {
    return this.envs[index]!;
  }

  /** Resets every slot with the next seeds; failed slots are recreated and retried once. */
  async reset(): Promise<ResetResult[]> {
    return Promise.all(this.envs.map((_, index) => this.resetSlot(index)));
  }

  /**
   * Steps every slot with its action concurrently (`actions[i]` for slot i). A slot whose env throws
   * reports `{ ok: false, error }`; its env is replaced and reset, and `next` holds the new episode.
   */
  async step(actions: readonly Action[]): Promise<PoolStepResult[]> {
    if (actions.length !== this.envs.length) {
      throw new TurngymError('INVALID_OPTIONS', `EnvPool.step needs ${this.envs.length} actions, got ${actions.length}`);
    }
    return Promise.all(actions.map((action, index) => this.stepSlot(index, action)));
  }

  async close(): Promise<void> {
    await Promise.allSettled(this.envs.map((env) => env.close()));
  }

  private async stepSlot(index: number, action: Action): Promise<PoolStepResult> {
    try {
      const result = await this.envs[index]!.step(action);
      if (!(result.terminated || result.truncated)) return { ...result, ok: true, index };
      if (!this.autoreset) {
        this.needsReset.add(index);
        return { ...result, ok: true, index };
      }
      return { ...result, ok: true, index, next: await this.resetSlot(index) };
    } catch (error) {
      const typed = TurngymError.is(error) ? error : new TurngymError('ENV_FAILURE', `slot ${index}: ${describeError(error)}`, { cause: error });
      let next: ResetResult | undefined;
      try {
        await this.replace(index);
        next = await this.resetSlot(index);
      } catch {
        this.needsReset.add(index);
      }
      return { ok: false, index, error: typed, next };
    }
  }

  private async resetSlot(index: number): Promise<ResetResult> {
    const options = { seed: this.seeds.seed(), options: this.options.resetOptions };
    try {
      const result = await this.envs[index]!.reset(options);
      this.needsReset.delete(index);
      return result;
    } catch (error) {
      if (TurngymError.is(error, 'INVALID_OPTIONS')) throw error;
      await this.replace(index);
      const result = await this.envs[index]!.reset(options);
      this.needsReset.delete(index);
      return result;
    }
  }

  private async replace(index: number): Promise<void> {
    await this.envs[index]!.close().catch(() => undefined);
    this.envs[index] = await this.options.create(index);
  }
}
