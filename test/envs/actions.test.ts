import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { parseAction, resolveAction, signature, toAnthropicTools, toOpenAITools } from '../../src/envs/actions.js';
import type { ToolSpec } from '../../src/envs/env.js';

const tools: ToolSpec[] = [
  {
    name: 'search',
    description: 'Search the corpus.',
    parameters: z.object({ query: z.string().min(1), k: z.number().int().min(1).max(20).optional() }),
  },
  { name: 'guess', description: 'Guess a number.', parameters: z.object({ n: z.number().int() }) },
  { name: 'answer', description: 'Give the final answer.', parameters: z.object({ text: z.string() }) },
];

describe('parseAction', () => {
  it('reads function-call syntax with positional arguments', () => {
    expect(parseAction('guess(42)', tools)).toEqual({ ok: true, call: { tool: 'guess', args: { n: 42 } } });
  });

  it('reads keyword arguments with = and :', () => {
    expect(parseAction('search(query="red shirt", k=3)', tools)).toEqual({
      ok: true,
      call: { tool: 'search', args: { query: 'red shirt', k: 3 } },
    });
    expect(parseAction("search(query: 'x')", tools)).toEqual({
      ok: true,
      call: { tool: 'search', args: { query: 'x' } },
    });
  });

  it('finds the call after some prose and handles escapes', () => {
    expect(parseAction('I will look it up. search("the \\"big\\" city")', tools)).toEqual({
      ok: true,
      call: { tool: 'search', args: { query: 'the "big" city' } },
    });
  });

  it('accepts a bare word as text', () => {
    expect(parseAction('answer(Paris)', tools)).toEqual({
      ok: true,
      call: { tool: 'answer', args: { text: 'Paris' } },
    });
  });

  it('reads JSON, OpenAI-style JSON and <tool_call> blocks', () => {
    const expected = { ok: true, call: { tool: 'guess', args: { n: 7 } } };
    expect(parseAction('{"tool": "guess", "args": {"n": 7}}', tools)).toEqual(expected);
    expect(parseAction('{"name": "guess", "arguments": "{\\"n\\": 7}"}', tools)).toEqual(expected);
    expect(parseAction('thinking...\n<tool_call>{"name": "guess", "arguments": {"n": 7}}</tool_call>', tools)).toEqual(
      expected,
    );
    expect(parseAction('```json\n{"tool": "guess", "args": {"n": 7}}\n```', tools)).toEqual(expected);
  });

  it('explains unparsable text and lists the tools', () => {
    const result = parseAction('hello there', tools);
    expect(result).toEqual({
      ok: false,
      error: {
        code: 'UNPARSABLE_ACTION',
        message:
          'Could not find a tool call in the action. Available tools: search(query, k?), guess(n), answer(text). Write a call such as search(query=...).',
      },
    });
    expect(parseAction('', tools).ok).toBe(false);
    expect(parseAction('guess(1', tools)).toMatchObject({
      ok: false,
      error: { code: 'UNPARSABLE_ACTION', message: expect.stringContaining('missing closing parenthesis') },
    });
    expect(parseAction('{"tool": ', tools)).toMatchObject({ ok: false, error: { code: 'UNPARSABLE_ACTION' } });
  });
});

describe('resolveAction', () => {
  it('validates arguments against the schema and coerces obvious string/number mix-ups', () => {
    expect(resolveAction('guess("12")', tools, 1000)).toEqual({ ok: true, call: { tool: 'guess', args: { n: 12 } } });
    expect(resolveAction('answer(1947)', tools, 1000)).toEqual({
      ok: true,
      call: { tool: 'answer', args: { text: '1947' } },
    });
  });

  it('names the unknown tool', () => {
    const result = resolveAction({ tool: 'fly', args: {} }, tools, 1000);
    expect(result).toMatchObject({
      ok: false,
      error: {
        code: 'UNKNOWN_TOOL',
        message: expect.stringMatching(/^Unknown tool 'fly'\. Available tools: search\(query, k\?\)/),
      },
    });
  });

  it('reports wrong types and unexpected arguments by name', () => {
    expect(resolveAction('guess(1.5)', tools, 1000)).toMatchObject({
      ok: false,
      error: { code: 'INVALID_ARGS', message: expect.stringContaining('n:') },
    });
    expect(resolveAction({ tool: 'guess', args: { n: 1, m: 2 } }, tools, 1000)).toEqual({
      ok: false,
      error: { code: 'INVALID_ARGS', message: "guess got unexpected argument 'm'; it takes guess(n)." },
    });
    expect(resolveAction('search(query="x", k=99)', tools, 1000)).toMatchObject({
      ok: false,
      error: { code: 'INVALID_ARGS' },
    });
    expect(resolveAction('guess(1, 2)', tools, 1000)).toMatchObject({
      ok: false,
      error: { code: 'INVALID_ARGS', message: expect.stringContaining('at most 1') },
    });
  });

  it('refuses oversized actions without parsing them', () => {
    const huge = `answer("${'a'.repeat(1 << 20)}")`;
    expect(resolveAction(huge, tools, 65536)).toEqual({
      ok: false,
      error: {
        code: 'ACTION_TOO_LARGE',
        message: `The action has ${huge.length} characters; the limit is 65536. Send a shorter action.`,
      },
    });
    expect(resolveAction({ tool: 'answer', args: { text: 'a'.repeat(70000) } }, tools, 65536)).toMatchObject({
      ok: false,
      error: { code: 'ACTION_TOO_LARGE' },
    });
  });

  it('refuses values that are not actions', () => {
    expect(resolveAction(42 as never, tools, 1000)).toMatchObject({ ok: false, error: { code: 'UNPARSABLE_ACTION' } });
    expect(resolveAction({ tool: 'guess' } as never, tools, 1000)).toMatchObject({
      ok: false,
      error: { code: 'UNPARSABLE_ACTION' },
    });
  });

  it('survives deeply nested and adversarial text', () => {
    expect(resolveAction(`guess(${'['.repeat(5000)})`, tools, 65536)).toMatchObject({ ok: false });
    expect(resolveAction('guess(n=)', tools, 1000)).toMatchObject({ ok: false });
    expect(resolveAction('guess(\u0000\uffff)', tools, 1000)).toMatchObject({ ok: false });
  });
});

describe('tool schemas', () => {
  it('writes signatures with optional arguments marked', () => {
    expect(signature(tools[0]!)).toBe('search(query, k?)');
  });

  it('exports OpenAI and Anthropic tool formats from the zod schemas', () => {
    const [openai] = toOpenAITools(tools);
    expect(openai).toEqual({
      type: 'function',
      function: {
        name: 'search',
        description: 'Search the corpus.',
        parameters: {
          type: 'object',
          properties: { query: { type: 'string', minLength: 1 }, k: { type: 'integer', minimum: 1, maximum: 20 } },
          required: ['query'],
          additionalProperties: false,
        },
      },
    });
    const [anthropic] = toAnthropicTools(tools);
    expect(anthropic).toEqual({
      name: 'search',
      description: 'Search the corpus.',
      input_schema: openai!.function.parameters,
    });
  });
});
