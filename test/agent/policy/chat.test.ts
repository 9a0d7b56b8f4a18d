import { describe, expect, it } from 'vitest';
import { type Segment, encodeSegments, episodeSegments, renderAction } from '../../../src/agent/policy/chat.js';
import { buildContext } from '../../../src/agent/policy/context.js';
import { Tokenizer } from '../../../src/agent/policy/tokenizer.js';
import { resolveAction } from '../../../src/envs/actions.js';
import { spec } from '../../../src/envs/registry.js';
import '../../../src/envs/builtin.js';

const guessSpec = spec('puzzle/guess-number-v0');
const tokenizer = Tokenizer.fit(['guess(n=16)', '16: higher.', 'I am thinking of an integer'], { minCount: 1 });

describe('renderAction', () => {
  it('writes tool calls that parseAction reads back to the same call', () => {
    expect(renderAction({ tool: 'guess', args: { n: 16 } })).toBe('guess(n=16)');
    expect(renderAction('guess(3)')).toBe('guess(3)');
    const rendered = renderAction({ tool: 'guess', args: { n: 7 } });
    expect(resolveAction(rendered, guessSpec.tools, 1000)).toEqual({
      ok: true,
      call: { tool: 'guess', args: { n: 7 } },
    });
    const text = renderAction({ tool: 'search', args: { query: 'say "hi"\n', k: 3 } });
    expect(text).toBe('search(query="say \\"hi\\"\\n", k=3)');
  });
});

describe('encodeSegments', () => {
  it('marks only action text and its end token for the loss', () => {
    const segments = episodeSegments(guessSpec, { text: 'I am thinking of an integer' }, [
      { action: { tool: 'guess', args: { n: 16 } }, observation: { text: '16: higher.' } },
    ]);
    expect(segments.map((segment) => segment.role)).toEqual(['tools', 'task', 'action', 'observation']);
    const { tokens, actionMask } = encodeSegments(segments, tokenizer);
    const masked = tokens.filter((_, index) => actionMask[index] === 1);
    expect(masked).toEqual([...tokenizer.encode('guess(n=16)'), tokenizer.special('<|end|>')]);
    expect(tokenizer.decode(tokens)).toBe(
      `<|tools|>${segments[0]!.text}<|end|><|task|>I am thinking of an integer<|end|><|action|>guess(n=16)<|end|><|observation|>16: higher.<|end|>`,
    );
  });
});

describe('buildContext', () => {
  const header: Segment[] = [
    { role: 'tools', text: 'guess(n): Guess.' },
    { role: 'task', text: 'I am thinking of an integer' },
  ];
  const turns = (count: number): Segment[] =>
    Array.from({ length: count }, (_, i) => [
      { role: 'action' as const, text: `guess(n=${i})` },
      { role: 'observation' as const, text: `${i}: higher.` },
    ]).flat();

  it('returns the whole transcript, ending with <|action|>, when it fits', () => {
    const context = buildContext([...header, ...turns(2)], tokenizer, 1000);
    expect(context.droppedTurns).toBe(0);
    expect(context.tokens.at(-1)).toBe(tokenizer.special('<|action|>'));
    expect(tokenizer.decode(context.tokens)).toContain('guess(n=0)');
  });

  it('keeps the tools and task and drops the oldest turns first, marking the cut', () => {
    const full = buildContext([...header, ...turns(6)], tokenizer, 10_000).tokens.length;
    const context = buildContext([...header, ...turns(6)], tokenizer, full - 10);
    expect(context.tokens.length).toBeLessThanOrEqual(full - 10);
    expect(context.droppedTurns).toBeGreaterThan(0);
    const text = tokenizer.decode(context.tokens);
    expect(text.startsWith('<|tools|>guess(n): Guess.<|end|><|task|>I am thinking of an integer<|end|><|cut|>')).toBe(
      true,
    );
    expect(text).not.toContain('guess(n=0)');
    expect(text).toContain('guess(n=5)<|end|><|observation|>5: higher.<|end|><|action|>');
  });

  it('shortens the tool descriptions before the task: the question survives a header longer than the context', () => {
    const long: Segment[] = [
      { role: 'tools', text: 'guess(n): Guess. '.repeat(40) },
      { role: 'task', text: 'I am thinking of an integer. Question: 16? guess(n): Guess. guess(n): Guess.' },
    ];
    const task = buildContext([long[1]!], tokenizer, 1000).tokens.length - 1; // its tokens, less <|action|>
    const context = buildContext(long, tokenizer, task + 20);
    expect(context.tokens.length).toBeLessThanOrEqual(task + 20);
    expect(context.clipped).toBe(true);
    const text = tokenizer.decode(context.tokens);
    expect(text.startsWith('<|tools|>guess(n): Guess.')).toBe(true);
    expect(text).toContain(
      '<|cut|><|task|>I am thinking of an integer. Question: 16? guess(n): Guess. guess(n): Guess.<|end|><|action|>',
    );
  });

  it('keeps the start of the task and of the newest turn when even they do not fit', () => {
    const huge: Segment[] = [
      ...header,
      { role: 'action', text: 'guess(n=1)' },
      { role: 'observation', text: `16: higher. ${'x'.repeat(500)}` },
    ];
    const context = buildContext(huge, tokenizer, 64);
    expect(context.tokens.length).toBeLessThanOrEqual(64);
    expect(context.clipped).toBe(true);
    const text = tokenizer.decode(context.tokens);
    expect(
      text.startsWith(
        '<|task|>I am thinking of an integer<|end|><|cut|><|action|>guess(n=1)<|end|><|observation|>16: higher. xx',
      ),
    ).toBe(true);
    expect(text.endsWith('x<|cut|><|action|>')).toBe(true);
  });
});
