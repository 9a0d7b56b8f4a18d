/** Registers the `puzzle/` family. */
import { z } from 'zod';
import { registerBuiltin } from '../registry.js';
import { GuessNumberEnv, guessNumberTools } from './guess-number.js';

export const guessNumberV0 = registerBuiltin({
  id: 'puzzle/guess-number-v0',
  description: 'Find a hidden integer by guessing; each guess is answered higher, lower or correct.',
  tools: guessNumberTools,
  maxTurns: 10,
  answerTool: 'guess',
  kwargs: z.object({
    difficulty: z.number().int().min(1).max(12).default(3).describe('Range is 1..2^(difficulty+2); default 3 (1..32)'),
  }),
  remoteKwargs: { difficulty: true },
  create: (kwargs, spec) => new GuessNumberEnv(spec, kwargs.difficulty),
});
