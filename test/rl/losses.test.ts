import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { Policy } from '../../src/agent/policy/policy.js';
import { Tokenizer } from '../../src/agent/policy/tokenizer.js';
import { Rng } from '../../src/core/rng.js';
import { lossConfigSchema, policyLoss } from '../../src/rl/losses.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const config = (overrides: Record<string, unknown>) => lossConfigSchema.parse(overrides);

function inputs(logp: number[], old: number[], advantages: number[], weights: number[]) {
  return {
    logprobs: tf.tensor1d(logp),
    oldLogprobs: tf.tensor1d(old),
    advantages: tf.tensor1d(advantages),
    weights: tf.tensor1d(weights),
  };
}

describe('policyLoss', () => {
  it('is the PPO-clip token mean (hand-computed)', () => {
    // ratios: e^0.5 = 1.6487 (A=+1, clipped at 1.28), e^-0.5 = 0.6065 (A=-1, clipped at 0.8 -> loss 0.8), 1 (A=2), masked.
    const out = policyLoss(
      inputs([0, -1, -2, -3], [-0.5, -0.5, -2, 0], [1, -1, 2, 5], [1, 1, 1, 0]),
      config({ entropyControl: 'none' }),
      Rng.fromSeed(0),
    );
    const expected = (-1 * 1.28 + 0.8 + -2 * 1) / 3;
    expect(out.loss.dataSync()[0]).toBeCloseTo(expected, 5);
    expect(out.metrics.pg_clipfrac).toBeCloseTo(2 / 3, 6);
    expect(out.metrics.ppo_kl).toBeCloseTo((-0.5 + 0.5 + 0) / 3, 6);
    expect(out.metrics.valid_tokens).toBe(3);
    expect(out.selected).toEqual([]);
  });

  it('with token weights is the weighted mean sum w L / sum w (trajectory-mean weights, hand-computed)', () => {
    // Two trajectories: one of 1 token (weight 1), one of 3 tokens (weight 1/3 each); on-policy, so L_i = -A_i.
    const logp = [-1, -0.5, -0.2, -2];
    const out = policyLoss(
      inputs(logp, logp, [3, -1, -1, -1], [1, 1 / 3, 1 / 3, 1 / 3]),
      config({ entropyControl: 'none' }),
      Rng.fromSeed(0),
    );
    expect(out.loss.dataSync()[0]).toBeCloseTo((-3 * 1 + 3 * (1 / 3)) / 2, 5); // -1; token-mean would give 0
    expect(out.metrics.valid_tokens).toBe(4);
    const logpVariable = tf.variable(tf.tensor1d(logp));
    const { grads } = tf.variableGrads(
      () =>
        policyLoss(
          { ...inputs(logp, logp, [3, -1, -1, -1], [1, 1 / 3, 1 / 3, 1 / 3]), logprobs: logpVariable as tf.Tensor1D },
          config({ entropyControl: 'none' }),
          Rng.fromSeed(0),
        ).loss,
      [logpVariable],
    );
    const gradient = Object.values(grads)[0]!.dataSync();
    expect(gradient[0]).toBeCloseTo(-3 / 2, 5);
    for (const index of [1, 2, 3]) expect(gradient[index]).toBeCloseTo(1 / 3 / 2, 5);
    logpVariable.dispose();
  });

  it('adds klCoef * k3(logp, logp_ref) on every valid token (hand-computed value and gradient)', () => {
    // On-policy with zero advantages, so only the KL term remains. k3 = e^d - d - 1 with d = ref - logp.
    const logp = [-1, -2, -3];
    const ref = [-1.5, -1, 0];
    const k3 = [Math.exp(-0.5) + 0.5 - 1, Math.E - 1 - 1]; // the third token is masked
    const klConfig = config({ entropyControl: 'none', klCoef: 0.5 });
    const klInputs = (logprobs: tf.Tensor1D) => ({
      ...inputs(logp, logp, [0, 0, 0], [1, 1, 0]),
      logprobs,
      refLogprobs: tf.tensor1d(ref),
    });
    const out = policyLoss(klInputs(tf.tensor1d(logp)), klConfig, Rng.fromSeed(0));
    expect(out.loss.dataSync()[0]).toBeCloseTo((0.5 * (k3[0]! + k3[1]!)) / 2, 5);
    expect(out.metrics.kl_ref).toBeCloseTo((k3[0]! + k3[1]!) / 2, 5);
    // d k3 / d logp = 1 - e^d: pulls each log-prob towards the reference's.
    const logpVariable = tf.variable(tf.tensor1d(logp));
    const { grads } = tf.variableGrads(
      () => policyLoss(klInputs(logpVariable as tf.Tensor1D), klConfig, Rng.fromSeed(0)).loss,
      [logpVariable],
    );
    const gradient = Object.values(grads)[0]!.dataSync();
    expect(gradient[0]).toBeCloseTo((0.5 * (1 - Math.exp(-0.5))) / 2, 5);
    expect(gradient[1]).toBeCloseTo((0.5 * (1 - Math.E)) / 2, 5);
    expect(gradient[2]).toBeCloseTo(0, 6);
    logpVariable.dispose();
    expect(() => policyLoss(inputs(logp, logp, [0, 0, 0], [1, 1, 0]), klConfig, Rng.fromSeed(0))).toThrow(
      /refLogprobs/,
    );
    expect(
      policyLoss(inputs(logp, logp, [0, 0, 0], [1, 1, 0]), config({ entropyControl: 'none' }), Rng.fromSeed(0)).metrics
        .kl_ref,
    ).toBe(0);
  });

  it('Clip-Cov zeroes the gradient of a random subset of unclipped tokens with lb < cov < ub', () => {
    // On-policy (ratio 1, nothing clipped). Means: A = 0, logp = -1. cov = A * (logp + 1).
    const logp = [0.5, 1, -1, -3, -1];
    const advantages = [2, 2, 0, -1, -3]; // cov: 3, 4, 0, 2, 0
    const mask = [1, 1, 1, 1, 1];
    const meanA = advantages.reduce((a, b) => a + b) / 5;
    const meanL = logp.reduce((a, b) => a + b) / 5;
    const cov = advantages.map((a, i) => (a - meanA) * (logp[i]! - meanL));
    const candidates = cov.map((c, i) => (c > 1 && c < 5 ? i : -1)).filter((i) => i >= 0);
    const out = policyLoss(
      inputs(logp, logp, advantages, mask),
      config({ entropyControl: 'clip-cov', clipCovRatio: 0.4 }),
      Rng.fromSeed(3),
    );
    expect(out.selected).toHaveLength(2);
    for (const index of out.selected) expect(candidates).toContain(index);
    expect(out.metrics.pg_clipfrac).toBeCloseTo(2 / 5, 6);
    // Loss: -A over the tokens that were not zeroed, divided by all valid tokens.
    const kept = [0, 1, 2, 3, 4].filter((i) => !out.selected.includes(i));
    expect(out.loss.dataSync()[0]).toBeCloseTo(kept.reduce((s, i) => s - advantages[i]!, 0) / 5, 5);
    // Zeroed tokens get no gradient.
    const logpVariable = tf.variable(tf.tensor1d(logp));
    const { grads } = tf.variableGrads(
      () =>
        policyLoss(
          { ...inputs(logp, logp, advantages, mask), logprobs: logpVariable as tf.Tensor1D },
          config({ entropyControl: 'clip-cov', clipCovRatio: 0.4 }),
          Rng.fromSeed(3),
        ).loss,
      [logpVariable],
    );
    const gradient = Object.values(grads)[0]!.dataSync();
    for (const index of out.selected) expect(Math.abs(gradient[index]!)).toBe(0);
    for (const index of kept) expect(gradient[index]).toBeCloseTo(-advantages[index]! / 5, 5);
  });

  it('Clip-Cov touches at least one token at the default ratio, and none when no token qualifies', () => {
    const logp = [0, -2];
    const out = policyLoss(
      inputs(logp, logp, [3, -3], [1, 1]),
      config({ entropyControl: 'clip-cov' }),
      Rng.fromSeed(1),
    );
    expect(out.selected).toHaveLength(1); // cov = 3 for both; max(1, int(2e-4 * 2)) = 1
    const none = policyLoss(
      inputs(logp, logp, [0.1, -0.1], [1, 1]),
      config({ entropyControl: 'clip-cov' }),
      Rng.fromSeed(1),
    );
    expect(none.selected).toEqual([]);
  });

  it('KL-Cov adds coef * |logp - logp_old| to the top tokens by covariance, without ratio clipping', () => {
    const logp = [0, -1, -2, -3];
    const old = [-0.5, -1.2, -2, -3.5];
    const advantages = [3, 1, -1, -3];
    const out = policyLoss(
      inputs(logp, old, advantages, [1, 1, 1, 1]),
      config({ entropyControl: 'kl-cov', klCovRatio: 0.5, klCovCoef: 0.1 }),
      Rng.fromSeed(0),
    );
    // cov = (A - 0)(logp + 1.5): 4.5, 0.5, 0.5, 4.5 -> top 2: tokens 0 and 3.
    expect(out.selected).toEqual([0, 3]);
    const ratio = logp.map((l, i) => Math.exp(l - old[i]!));
    const perToken = ratio.map(
      (r, i) => -advantages[i]! * r + (out.selected.includes(i) ? 0.1 * Math.abs(logp[i]! - old[i]!) : 0),
    );
    expect(out.loss.dataSync()[0]).toBeCloseTo(perToken.reduce((a, b) => a + b) / 4, 5);
    expect(out.metrics.ppo_kl).toBeCloseTo((0.5 + 0.2 + 0 + 0.5) / 4, 6);
  });

  it('subtracts an entropy bonus', () => {
    const logp = [-1, -1];
    const out = policyLoss(
      { ...inputs(logp, logp, [1, 1], [1, 0]), entropies: tf.tensor1d([2, 9]) },
      config({ entropyControl: 'bonus', entropyCoef: 0.5 }),
      Rng.fromSeed(0),
    );
    expect(out.loss.dataSync()[0]).toBeCloseTo(-1 - 0.5 * 2, 6);
  });

  it('has the verl defaults', () => {
    expect(lossConfigSchema.parse({})).toMatchObject({
      clipCovRatio: 2e-4,
      clipCovLb: 1,
      clipCovUb: 5,
      klCovRatio: 2e-4,
      klCovCoef: 0.1,
    });
  });
});

describe('policyLoss driving a real policy update', () => {
  // The end-to-end direction check the hand-computed cases cannot give: through the transformer, the
  // optimizer and the loss, one step must raise the log-probs of tokens with a positive advantage and
  // lower those with a negative one, whatever the entropy control.
  it.each(['none', 'bonus', 'clip-cov', 'kl-cov'] as const)(
    'moves log-probs in the direction of the advantage (%s)',
    (entropyControl) => {
      const text = 'I am thinking of an integer from 1 to 32. guess(n=16) 16: higher. guess(n=24) 24: lower.';
      const tokenizer = Tokenizer.fit([text, text]);
      const policy = Policy.create({
        tokenizer,
        model: { layers: 1, width: 32, heads: 2, contextLength: 64 },
        optimizer: { learningRate: 1e-2 },
        maxActionTokens: 8,
        seed: 3,
      });
      const context = tokenizer.encode('I am thinking of an integer from 1 to 32.');
      const continuations = [tokenizer.encode(' guess(n=16)'), tokenizer.encode(' guess(n=24)')];
      const [good, bad] = continuations.map((continuation) => ({
        tokens: [...context, ...continuation],
        targetMask: [...context.map(() => 0), ...continuation.map(() => 1)],
      }));
      const scores = () => policy.score([context, context], continuations);
      const total = (values: number[]) => values.reduce((a, b) => a + b, 0);
      const beforeScores = scores();
      const [goodBefore, badBefore] = beforeScores.map(total);
      const before = beforeScores.flat();
      const advantages = [...continuations[0]!.map(() => 1), ...continuations[1]!.map(() => -1)];
      policy.update(() => {
        const { logprobs, entropies } = policy.tokenLogprobs([good!, bad!]);
        return policyLoss(
          {
            logprobs,
            entropies,
            oldLogprobs: tf.tensor1d(before),
            advantages: tf.tensor1d(advantages),
            weights: tf.onesLike(logprobs),
          },
          config({ entropyControl }),
          Rng.fromSeed(1),
        ).loss;
      });
      const [goodAfter, badAfter] = scores().map(total);
      expect(goodAfter).toBeGreaterThan(goodBefore!);
      expect(badAfter).toBeLessThan(badBefore!);
      policy.dispose();
    },
  );
});
