/**
 * Curricula over the interaction horizon (the maximum number of turns per episode).
 *
 * - `fixed`: one horizon throughout.
 * - `scaling-inter` (AgentGym-RL's ScalingInter-RL): stages of max turns, e.g. [5, 8, 10], a new stage every
 *   `every` steps; stage = min(floor(step / every), last). Recomputed from the step, so resuming restores it.
 * - `tti` (TTI's multiplicative schedule): the horizon grows by `increment` at stages whose lengths double —
 *   `iterationSteps` steps at `initial`, then twice as long at `initial + increment`, and so on up to `max`.
 *   With initial 10, increment 10, max 30 this is TTI's published schedule: 10 in iteration 1, 20 in 2–3,
 *   30 from 4 on.
 */
import { z } from 'zod';
import { TurngymError } from '../core/errors.js';

export const curriculumSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('fixed'), maxTurns: z.number().int().min(1).describe('The horizon') }),
  z.object({
    kind: z.literal('scaling-inter'),
    stages: z.array(z.number().int().min(1)).min(1).describe('Max turns of each stage, e.g. [5, 8, 10]'),
    every: z.number().int().min(1).describe('Training steps per stage'),
  }),
  z.object({
    kind: z.literal('tti'),
    initial: z.number().int().min(1).describe('Horizon of the first iteration'),
    increment: z.number().int().min(1).describe('Added to the horizon at each stage'),
    max: z.number().int().min(1).describe('Largest horizon'),
    iterationSteps: z.number().int().min(1).describe('Training steps per iteration'),
  }),
]);
export type Curriculum = z.output<typeof curriculumSchema>;

/** The horizon at a training step (0-based). */
export function horizonAt(curriculum: Curriculum, step: number): number {
  switch (curriculum.kind) {
    case 'fixed':
      return curriculum.maxTurns;
    case 'scaling-inter': {
      const stage = Math.min(Math.floor(step / curriculum.every), curriculum.stages.length - 1);
      return curriculum.stages[stage]!;
    }
    case 'tti': {
      const iteration = Math.floor(step / curriculum.iterationSteps); // 0-based
      const stage = Math.floor(Math.log2(iteration + 1)); // stage lengths 1, 2, 4, ... iterations
      return Math.min(curriculum.initial + stage * curriculum.increment, curriculum.max);
    }
  }
}

/**
 * Parses a short text form of a curriculum: `fixed:10`, `scaling-inter:5,8,10@100` (stages @ every),
 * `tti:10+10..30@50` (initial + increment .. max @ iterationSteps); anything else is an error. No command
 * reads this form: `turngym train --curriculum` (and `curriculum` in a config file or `train()`) takes the
 * JSON of `curriculumSchema`, e.g. `{"kind":"scaling-inter","stages":[5,8,10],"every":100}`.
 */
export function parseCurriculum(text: string): Curriculum {
  const [kind, rest = ''] = text.split(':');
  if (kind === 'fixed') return curriculumSchema.parse({ kind, maxTurns: Number(rest) });
  if (kind === 'scaling-inter') {
    const [stages = '', every = ''] = rest.split('@');
    return curriculumSchema.parse({ kind, stages: stages.split(',').map(Number), every: Number(every) });
  }
  if (kind === 'tti') {
    const match = /^(\d+)\+(\d+)\.\.(\d+)@(\d+)$/.exec(rest);
    if (match)
      return curriculumSchema.parse({
        kind,
        initial: +match[1]!,
        increment: +match[2]!,
        max: +match[3]!,
        iterationSteps: +match[4]!,
      });
  }
  throw new TurngymError(
    'INVALID_OPTIONS',
    `Cannot read curriculum '${text}': use fixed:10, scaling-inter:5,8,10@100 or tti:10+10..30@50.`,
  );
}
