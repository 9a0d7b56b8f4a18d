import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  SFT_OPTIONS_FILE,
  sftOptionsSource,
  TRAIN_OPTIONS_FILE,
  trainOptionsSource,
} from '../../scripts/train-options.js';
import { parseTrainConfig } from '../../src/rl/config.js';

describe('trainConfigSchema', () => {
  it('is documented option by option in the TrainOptions interface (run `npx tsx scripts/train-options.ts` when this fails)', () => {
    expect(readFileSync(TRAIN_OPTIONS_FILE, 'utf8')).toBe(trainOptionsSource());
    expect(trainOptionsSource()).toContain(
      "  /**\n   * RL training steps (each: rollouts, advantages, updates).\n   *\n   * @defaultValue `50`\n   */\n  steps?: Input['steps'];",
    );
  });

  it('has behaviour cloning documented option by option in the SftOptions interface the same way', () => {
    expect(readFileSync(SFT_OPTIONS_FILE, 'utf8')).toBe(sftOptionsSource());
  });

  it('states each rule between options once, in the schema, before anything runs', () => {
    expect(() => parseTrainConfig({ evalSamples: 2, advantage: 'igpo', formatPenaltyOn: 'turn' })).toThrow(
      /^Invalid training options: --eval-samples 2 at --eval-temperature 0 would play .*; --format-penalty-on turn is for --advantage grpo: .*\.$/,
    );
    expect(parseTrainConfig({ evalSamples: 2, evalTemperature: 0.5 }).evalSamples).toBe(2);
  });

  it('names each bad option as the caller spells it: the option for the API, the flag for the command line', () => {
    expect(() =>
      parseTrainConfig({
        warmStartSteps: -1,
        curriculum: { kind: 'scaling-inter', stages: [3, 'x'], every: 4 },
        bogus: 1,
        other: 2,
      }),
    ).toThrow(
      'Invalid training options: warmStartSteps: Too small: expected number to be >=0; curriculum.stages.1: Invalid input: expected number, received string; unknown options bogus, other.',
    );
    expect(() =>
      parseTrainConfig(
        { warmStartSteps: -1 },
        (option) => `--${option.replace(/[A-Z]/g, (letter) => `-${letter.toLowerCase()}`)}`,
      ),
    ).toThrow('Invalid training options: --warm-start-steps: Too small: expected number to be >=0.');
    expect(parseTrainConfig({})).toMatchObject({ steps: 50, out: 'runs/latest' });
  });
});

describe('option names of earlier releases', () => {
  it("reads envKwargs (a run's config.json written before the rename) as kwargs; kwargs wins when both are given", () => {
    expect(parseTrainConfig({ envKwargs: { size: 40 } }).kwargs).toEqual({ size: 40 });
    expect(parseTrainConfig({ envKwargs: { size: 40 }, kwargs: { size: 80 } }).kwargs).toEqual({ size: 80 });
    expect(parseTrainConfig({}).kwargs).toEqual({});
  });
});
