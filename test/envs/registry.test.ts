import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { TurngymError } from '../../src/core/errors.js';
import {
  list,
  make,
  register,
  registerBuiltin,
  remoteKwargs,
  remoteKwargsSchema,
  spec,
  suggest,
  unregister,
} from '../../src/envs/registry.js';
import { GuessNumberEnv, guessNumberTools } from '../../src/envs/puzzle/guess-number.js';
import '../../src/envs/builtin.js';

describe('registry', () => {
  afterEach(() => {
    unregister('test/guess-v0');
  });

  it('lists the built-in envs and gives their spec without creating one', () => {
    expect(list()).toContain('puzzle/guess-number-v0');
    expect(spec('puzzle/guess-number-v0')).toMatchObject({
      id: 'puzzle/guess-number-v0',
      maxTurns: 10,
      deterministic: true,
      concurrentSafe: true,
    });
  });

  it('answers an unknown id with did-you-mean', async () => {
    await expect(make('puzzle/guess-numbr-v0')).rejects.toThrow(
      "No environment is registered as 'puzzle/guess-numbr-v0'. Did you mean 'puzzle/guess-number-v0'? Run `turngym list` to see them all.",
    );
    await expect(make('puzzle/guess-number-v9')).rejects.toSatisfy((error) => TurngymError.is(error, 'UNKNOWN_ENV'));
    expect(suggest('puzzle/guess-number-v9', ['puzzle/guess-number-v0', 'search/multihop-v0'])).toEqual([
      'puzzle/guess-number-v0',
    ]);
    expect(() => spec('nothing/like-it-v0')).toThrow("No environment is registered as 'nothing/like-it-v0'. Run");
  });

  it('validates kwargs and names each bad field', async () => {
    await expect(make('puzzle/guess-number-v0', { difficulty: 99 })).rejects.toThrow(
      /Invalid arguments for 'puzzle\/guess-number-v0':\n {2}- difficulty: Too big/,
    );
    await expect(make('puzzle/guess-number-v0', { difficulty: 'hard' })).rejects.toThrow(
      /difficulty: Invalid input: expected number/,
    );
    await expect(make('puzzle/guess-number-v0', { dificulty: 2 })).rejects.toThrow(
      "  - dificulty: unknown argument; 'puzzle/guess-number-v0' accepts 'difficulty'",
    );
  });

  it('takes no kwargs from remote clients unless the env declares them, and checks what it declares', () => {
    const definition = {
      id: 'test/guess-v0',
      description: 'guess',
      tools: guessNumberTools,
      maxTurns: 5,
      kwargs: z.object({ difficulty: z.number().int().min(1).max(12).default(3), folder: z.string().optional() }),
      create: (kwargs: { difficulty: number }, envSpec: never) => new GuessNumberEnv(envSpec, kwargs.difficulty),
    };
    register(definition);
    expect(spec('test/guess-v0').remoteKwargs).toEqual({});
    expect(Object.keys(remoteKwargsSchema('test/guess-v0').shape)).toEqual([]);
    expect(() => remoteKwargs('test/guess-v0', { difficulty: 2 })).toThrow(
      "difficulty: only the server's operator may set it (turngym serve --kwargs); a remote client may set none of its arguments",
    );
    unregister('test/guess-v0');
    expect(() => register({ ...definition, remoteKwargs: { difficulty: true, colour: true } as never })).toThrow(
      "test/guess-v0: remoteKwargs names 'colour', which kwargs does not have.",
    );
    register({ ...definition, remoteKwargs: { difficulty: z.number().int().max(4) } });
    expect(remoteKwargs('test/guess-v0', { difficulty: 4 }, { folder: '/srv/data' })).toEqual({
      difficulty: 4,
      folder: '/srv/data',
    });
    expect(() => remoteKwargs('test/guess-v0', { difficulty: 5 })).toThrow(
      'difficulty: Too big: expected number to be <=4',
    );
  });

  it('applies kwarg defaults and the standard wrappers', async () => {
    const env = await make('puzzle/guess-number-v0');
    const { observation, info } = await env.reset({ seed: 3 });
    expect(observation.text).toContain('from 1 to 32');
    expect(info).toMatchObject({ seed: 3, difficulty: 3, max_turns: 10 });
    await env.close();
  });

  it('refuses malformed ids and re-registration of a published id', () => {
    const definition = {
      description: 'x',
      tools: guessNumberTools,
      maxTurns: 5,
      kwargs: z.object({}),
      create: (_: object, s: never) => new GuessNumberEnv(s, 1),
    };
    expect(() => register({ ...definition, id: 'Guess' })).toThrow("'Guess' is not a valid env id: use family/name-vN");
    register({ ...definition, id: 'test/guess-v0' });
    expect(() => register({ ...definition, id: 'test/guess-v0' })).toThrow(
      "'test/guess-v0' is already registered. A published id never changes meaning: register a new version (e.g. 'test/guess-v1').",
    );
    unregister('test/guess-v0');
  });

  it('keeps the first registration when a second copy of turngym registers its built-in envs (the CLI from dist/, an --import module from source)', () => {
    const definition = {
      id: 'test/builtin-v0',
      description: 'x',
      tools: guessNumberTools,
      maxTurns: 5,
      kwargs: z.object({}),
      create: (_: object, s: never) => new GuessNumberEnv(s, 1),
    };
    const first = registerBuiltin(definition);
    // A second copy of the package: another definition object for the same published id.
    expect(registerBuiltin({ ...definition })).toBe(first);
    expect(spec('test/builtin-v0')).toBe(first);
    // A user's env is still refused under a built-in's id, and a built-in under a user's.
    expect(() => register({ ...definition })).toThrow("'test/builtin-v0' is already registered.");
    register({ ...definition, id: 'test/mine-v0' });
    expect(() => registerBuiltin({ ...definition, id: 'test/mine-v0' })).toThrow(
      "'test/mine-v0' is already registered.",
    );
    unregister('test/builtin-v0');
    unregister('test/mine-v0');
  });
});
