// Generated from sftOptionsSchema (src/agent/policy/sft.ts) by scripts/train-options.ts: do not edit, run `npx tsx scripts/train-options.ts`.
import type { z } from 'zod';
import type { sftOptionsSchema } from './sft.js';

type Input = z.input<typeof sftOptionsSchema>;

/**
 * The settings of `behaviourCloning()`, each with its meaning and default (`turngym sft`'s flags, where it has
 * one: `batchTokens` is `--batch-tokens`). All but `env` are optional; `behaviourCloning()` validates them and
 * throws a `TurngymError` (`INVALID_OPTIONS`) naming each bad one.
 */
export interface SftOptions {
  /**
   * Environment id, e.g. puzzle/guess-number-v0.
   */
  env: Input['env'];
  /**
   * Env keyword arguments for make(env, kwargs), as a JSON object, e.g. {"hops":2}.
   *
   * @defaultValue `{}`
   */
  kwargs?: Input['kwargs'];
  /**
   * Oracle demonstrations (training seeds 0..n-1).
   *
   * @defaultValue `256`
   */
  episodes?: Input['episodes'];
  /**
   * Optimizer steps.
   *
   * @defaultValue `150`
   */
  steps?: Input['steps'];
  /**
   * Held-out episodes (seeds from 1,000,000, tasks of the held-out split); 0: none.
   *
   * @defaultValue `100`
   */
  evalEpisodes?: Input['evalEpisodes'];
  /**
   * Tokens per batch (sequences x padded length).
   *
   * @defaultValue `2048`
   */
  batchTokens?: Input['batchTokens'];
  /**
   * Peak learning rate.
   *
   * @defaultValue `0.002`
   */
  learningRate?: Input['learningRate'];
  /**
   * Shape of the fresh policy (unset fields: the defaults of modelShapeSchema, model.ts).
   *
   * @defaultValue `{}`
   */
  model?: Input['model'];
  /**
   * Most tokens per action.
   *
   * @defaultValue `48`
   */
  maxActionTokens?: Input['maxActionTokens'];
  /**
   * Largest vocabulary (default: the tokenizer's, 2048).
   */
  maxVocab?: Input['maxVocab'];
  /**
   * How the tokenizer splits numbers: whole (up to six digits, one token) or digits (one token a digit, so a
   * number copied from the task or an output is the same tokens).
   *
   * @defaultValue `"whole"`
   */
  numbers?: Input['numbers'];
  /**
   * Subword pieces, fitted over the words the vocabulary leaves out, that spell such a word (a name never
   * seen becomes a few recurring pieces, not bytes); part of maxVocab; 0: spelled in bytes.
   *
   * @defaultValue `0`
   */
  subwords?: Input['subwords'];
  /**
   * Sampling temperature of the held-out evaluation (0: greedy).
   *
   * @defaultValue `0`
   */
  evalTemperature?: Input['evalTemperature'];
  /**
   * Plays of each held-out task (above 1 needs evalTemperature above 0; see evaluatePolicy).
   *
   * @defaultValue `1`
   */
  evalSamples?: Input['evalSamples'];
  /**
   * Turn limit of the held-out evaluation (default: the env's).
   */
  evalMaxTurns?: Input['evalMaxTurns'];
  /**
   * Seed of the weights and batch order.
   *
   * @defaultValue `0`
   */
  seed?: Input['seed'];
}

// Fails to compile when this interface and the schema name different options.
type Same<T extends true> = T;
type _SameOptions = Same<[Exclude<keyof Input, keyof SftOptions>, Exclude<keyof SftOptions, keyof Input>] extends [never, never] ? true : false>;
