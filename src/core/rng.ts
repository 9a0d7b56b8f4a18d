/** The seeded random source every layer draws from (tasks, the model's initialisation, the loss's sampling). */
import { uniformFloat64 } from 'pure-rand/distribution/uniformFloat64';
import { uniformInt } from 'pure-rand/distribution/uniformInt';
import { xoroshiro128plusFromState } from 'pure-rand/generator/xoroshiro128plus';
import type { JumpableRandomGenerator } from 'pure-rand/types/JumpableRandomGenerator';

/** A seeded random source (xoroshiro128+ from pure-rand). Never use Math.random in tasks. */
export class Rng {
  private constructor(private readonly generator: JumpableRandomGenerator) {}

  /**
   * A generator for `seed` (any safe integer). The seed is hashed into the whole 128-bit state first:
   * xoroshiro128+'s own seeding puts the seed into the state as it is, so the first draws of nearby seeds
   * were nearly equal (seed 1,000,000, the first held-out seed, drew the same task as training seed 0).
   */
  static fromSeed(seed: number): Rng {
    let state = (seed | 0) ^ Math.imul(Math.floor(seed / 2 ** 32) | 0, 0x9e3779b1);
    const words = Array.from({ length: 4 }, (): number => {
      state = (state + 0x9e3779b9) | 0;
      return fmix32(state);
    });
    if (!words.some((word) => word !== 0)) words[0] = 1; // the one state xoroshiro cannot leave
    return new Rng(xoroshiro128plusFromState(words));
  }

  /** Restores a generator from `state()`. */
  static fromState(state: readonly number[]): Rng {
    return new Rng(xoroshiro128plusFromState(state));
  }

  /** Serialisable state (for checkpoints). */
  state(): number[] {
    return [...this.generator.getState()];
  }

  /** Integer uniform in [min, max], both included. */
  int(min: number, max: number): number {
    return uniformInt(this.generator, min, max);
  }

  /** Float uniform in [0, 1). */
  float(): number {
    return uniformFloat64(this.generator);
  }

  /** True with probability `p`. */
  chance(p: number): boolean {
    return this.float() < p;
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new Error('Rng.pick on an empty list');
    return items[this.int(0, items.length - 1)]!;
  }

  /** A shuffled copy (Fisher–Yates). */
  shuffle<T>(items: readonly T[]): T[] {
    const copy = [...items];
    for (let i = copy.length - 1; i > 0; i--) {
      const j = this.int(0, i);
      [copy[i], copy[j]] = [copy[j]!, copy[i]!];
    }
    return copy;
  }

  /** `count` distinct items, in random order. */
  sample<T>(items: readonly T[], count: number): T[] {
    return this.shuffle(items).slice(0, count);
  }

  /** A non-negative 31-bit seed drawn from this generator (to seed another). */
  seed(): number {
    return this.int(0, 0x7fffffff);
  }

  /** An independent generator; this one is advanced by a jump so the two never overlap. */
  fork(): Rng {
    const child = new Rng(this.generator.clone());
    this.generator.jump();
    return child;
  }
}

/** MurmurHash3's 32-bit finaliser: every bit of `x` affects every bit of the result. */
export function fmix32(x: number): number {
  let z = x;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) | 0;
}
