/**
 * AdamW with global-norm gradient clipping, written out so that its state (step count and both moment
 * estimates per variable) can be saved in checkpoints and restored exactly.
 */
import * as tf from '@tensorflow/tfjs-core';
import { z } from 'zod';
import { TurngymError } from '../../core/errors.js';

export const optimizerConfigSchema = z.object({
  learningRate: z.number().positive().default(1e-3).describe('Step size'),
  beta1: z.number().min(0).max(1).default(0.9).describe('Decay of the first-moment estimate'),
  beta2: z.number().min(0).max(1).default(0.99).describe('Decay of the second-moment estimate'),
  epsilon: z.number().positive().default(1e-8).describe('Added to the denominator'),
  weightDecay: z
    .number()
    .min(0)
    .default(0.01)
    .describe('Decoupled weight decay, applied to matrices only (not to norms)'),
  clipNorm: z.number().min(0).default(1).describe('Clip the global gradient norm to this; 0 disables clipping'),
});
export type OptimizerConfig = z.output<typeof optimizerConfigSchema>;

export class AdamW {
  readonly config: OptimizerConfig;
  /** Updates applied so far. */
  step = 0;
  private readonly moments = new Map<string, { first: tf.Variable; second: tf.Variable }>();

  constructor(config: Partial<OptimizerConfig> = {}) {
    this.config = optimizerConfigSchema.parse(config);
  }

  /** The learning rate of the next update (set it to run a schedule). */
  get learningRate(): number {
    return this.config.learningRate;
  }

  set learningRate(value: number) {
    this.config.learningRate = value;
  }

  /**
   * Applies one update to `variables` from `gradients` (same names). Returns the global gradient norm
   * before clipping.
   */
  apply(variables: ReadonlyMap<string, tf.Variable>, gradients: Readonly<Record<string, tf.Tensor>>): number {
    const names = [...variables.keys()].filter((name) => gradients[name] !== undefined);
    const norm = tf.tidy(
      () => tf.sqrt(tf.addN(names.map((name) => tf.sum(tf.square(gradients[name]!))))).dataSync()[0]!,
    );
    const { beta1, beta2, epsilon, weightDecay, clipNorm, learningRate } = this.config;
    const clip = clipNorm > 0 && norm > clipNorm ? clipNorm / norm : 1;
    this.step += 1;
    const correction1 = 1 - beta1 ** this.step;
    const correction2 = 1 - beta2 ** this.step;
    for (const name of names) {
      const variable = variables.get(name)!;
      const moment = this.moment(name, variable);
      tf.tidy(() => {
        const gradient = clip === 1 ? gradients[name]! : tf.mul(gradients[name]!, clip);
        const first = tf.add(tf.mul(moment.first, beta1), tf.mul(gradient, 1 - beta1));
        const second = tf.add(tf.mul(moment.second, beta2), tf.mul(tf.square(gradient), 1 - beta2));
        moment.first.assign(first);
        moment.second.assign(second);
        const update = tf.div(tf.div(first, correction1), tf.add(tf.sqrt(tf.div(second, correction2)), epsilon));
        const decayed =
          variable.rank >= 2 && weightDecay > 0 ? tf.mul(variable, 1 - learningRate * weightDecay) : variable;
        variable.assign(tf.sub(decayed, tf.mul(update, learningRate)));
      });
    }
    return norm;
  }

  /** The state as named arrays (`name/first`, `name/second`) plus the step count. */
  state(): { step: number; tensors: { name: string; shape: number[]; values: Float32Array }[] } {
    const tensors: { name: string; shape: number[]; values: Float32Array }[] = [];
    for (const [name, moment] of this.moments) {
      tensors.push({
        name: `${name}/first`,
        shape: moment.first.shape,
        values: moment.first.dataSync() as Float32Array,
      });
      tensors.push({
        name: `${name}/second`,
        shape: moment.second.shape,
        values: moment.second.dataSync() as Float32Array,
      });
    }
    return { step: this.step, tensors };
  }

  /** Restores a state saved by `state()` (shapes are checked against the variables). */
  load(
    variables: ReadonlyMap<string, tf.Variable>,
    state: { step: number; tensors: { name: string; shape: number[]; values: Float32Array }[] },
  ): void {
    const byName = new Map(state.tensors.map((tensor) => [tensor.name, tensor]));
    for (const [name, variable] of variables) {
      const first = byName.get(`${name}/first`);
      const second = byName.get(`${name}/second`);
      if (!first || !second) continue;
      for (const saved of [first, second]) {
        if (saved.shape.join(',') !== variable.shape.join(',')) {
          throw new TurngymError(
            'BAD_CHECKPOINT',
            `optimizer state ${saved.name} has shape [${saved.shape}] but the variable has [${variable.shape}]`,
          );
        }
      }
      const moment = this.moment(name, variable);
      tf.tidy(() => {
        moment.first.assign(tf.tensor(first.values, first.shape));
        moment.second.assign(tf.tensor(second.values, second.shape));
      });
    }
    this.step = state.step;
  }

  dispose(): void {
    for (const moment of this.moments.values()) {
      moment.first.dispose();
      moment.second.dispose();
    }
    this.moments.clear();
  }

  private moment(name: string, variable: tf.Variable) {
    let moment = this.moments.get(name);
    if (!moment) {
      const zeros = tf.zerosLike(variable);
      moment = { first: tf.variable(zeros, false), second: tf.variable(zeros, false) };
      zeros.dispose();
      this.moments.set(name, moment);
    }
    return moment;
  }
}
