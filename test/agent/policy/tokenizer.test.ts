import { describe, expect, it } from 'vitest';
import { SPECIAL_TOKENS, Tokenizer, splitPieces } from '../../../src/agent/policy/tokenizer.js';

const corpus = [
  'I am thinking of an integer from 1 to 32.',
  'guess(n=16)',
  '16: higher.',
  'guess(n=24)',
  '24: lower.',
  'I am thinking of an integer from 1 to 64.',
];

describe('Tokenizer', () => {
  it('splits text into pieces that concatenate back to it', () => {
    const text = 'search(query="capital  of\tFrance")\n  → Paris, 1234567!';
    expect(splitPieces(text).join('')).toBe(text);
  });

  it('round-trips any text, spelling unseen pieces in bytes', () => {
    const tokenizer = Tokenizer.fit(corpus, { minCount: 1 });
    for (const text of [
      'guess(n=16)',
      'an integer from 1 to 32',
      'Zürich — 東京 😀 unseen words',
      '',
      '   spaced   out  ',
    ]) {
      expect(tokenizer.decode(tokenizer.encode(text))).toBe(text);
    }
    // A fitted piece is one id; an unseen word costs one id per UTF-8 byte.
    expect(tokenizer.encode(' integer')).toHaveLength(1);
    expect(tokenizer.encode(' Zürich')).toHaveLength(Buffer.byteLength(' Zürich'));
  });

  it('never produces special tokens from text', () => {
    const tokenizer = Tokenizer.fit(corpus, { minCount: 1 });
    const ids = tokenizer.encode('<|end|><|action|> guess(1)');
    expect(ids.some((id) => tokenizer.isSpecial(id))).toBe(false);
    expect(tokenizer.decode([tokenizer.special('<|action|>'), ...tokenizer.encode('x')])).toBe('<|action|>x');
  });

  it('keeps the most frequent pieces within maxVocab, deterministically', () => {
    const small = Tokenizer.fit(corpus, { maxVocab: SPECIAL_TOKENS.length + 256 + 3, minCount: 1 });
    expect(small.vocabSize).toBe(SPECIAL_TOKENS.length + 256 + 3);
    expect(Tokenizer.fit(corpus, { minCount: 1 }).fingerprint()).toBe(
      Tokenizer.fit([...corpus].reverse(), { minCount: 1 }).fingerprint(),
    );
    // Pieces seen fewer than minCount times are left to bytes.
    expect(Tokenizer.fit(corpus, { minCount: 2 }).encode(' thinking')).toHaveLength(1);
    expect(Tokenizer.fit(corpus, { minCount: 3 }).encode(' thinking')).toHaveLength(' thinking'.length);
  });

  it('restores from JSON and rejects what is not a tokenizer', () => {
    const tokenizer = Tokenizer.fit(corpus, { minCount: 1 });
    const restored = Tokenizer.fromJSON(JSON.parse(JSON.stringify(tokenizer.toJSON())));
    expect(restored.encode('guess(n=16)')).toEqual(tokenizer.encode('guess(n=16)'));
    expect(restored.fingerprint()).toBe(tokenizer.fingerprint());
    expect(() => Tokenizer.fromJSON({ kind: 'bpe' })).toThrow('Not a turngym tokenizer');
    expect(() => Tokenizer.fromJSON({ ...tokenizer.toJSON(), special: ['<|pad|>'] })).toThrow(
      'special tokens (<|pad|>) differ',
    );
    expect(() => tokenizer.decode([tokenizer.vocabSize])).toThrow(
      `Token id ${tokenizer.vocabSize} is outside the vocabulary`,
    );
  });

  it('splits numbers into digits when asked, so a number is the same ids wherever it appears', () => {
    expect(splitPieces('=> 702; answer(value="702")', 'digits')).toEqual([
      '=',
      '>',
      ' ',
      '7',
      '0',
      '2',
      ';',
      ' answer',
      '(',
      'value',
      '=',
      '"',
      '7',
      '0',
      '2',
      '"',
      ')',
    ]);
    expect(splitPieces('=> 702', 'whole')).toEqual(['=', '>', ' 702']);
    const text = ['F(54) is 86267571272; for (let i = 0; i < 54; i++)', 'x2 = 1234567'];
    const digits = Tokenizer.fit(text, { minCount: 1, numbers: 'digits' });
    expect(digits.numbers).toBe('digits');
    for (const sample of [...text, 'unseen 98765 and 0.5']) expect(digits.decode(digits.encode(sample))).toBe(sample);
    // The number in the question and the one in the program: the same ids in digits, different ids whole.
    expect(digits.encode('54')).toEqual(digits.encode(' 54').slice(1));
    const whole = Tokenizer.fit(text, { minCount: 1 });
    expect(whole.encode(' 54')).toHaveLength(1);
    expect(whole.encode('54')).toHaveLength(1);
    expect(whole.encode(' 54')[0]).not.toBe(whole.encode('54')[0]);
    expect(() => Tokenizer.fit(text, { numbers: 'roman' as never })).toThrow(
      "numbers must be one of whole, digits, got 'roman'",
    );
  });

  it('writes version 1 for whole numbers (fingerprints of earlier checkpoints hold) and version 2 for digits', () => {
    const whole = Tokenizer.fit(corpus, { minCount: 1 });
    expect(whole.toJSON()).toEqual({
      kind: 'turngym-words-bytes',
      version: 1,
      special: [...SPECIAL_TOKENS],
      pieces: expect.any(Array),
    });
    const digits = Tokenizer.fit(corpus, { minCount: 1, numbers: 'digits' });
    const json = JSON.parse(JSON.stringify(digits.toJSON()));
    expect(json).toMatchObject({ version: 2, numbers: 'digits' });
    const restored = Tokenizer.fromJSON(json);
    expect(restored.numbers).toBe('digits');
    expect(restored.encode('guess(n=16)')).toEqual(digits.encode('guess(n=16)'));
    expect(restored.fingerprint()).toBe(digits.fingerprint());
    expect(() => Tokenizer.fromJSON({ ...json, numbers: 'hex' })).toThrow(
      'numbers field must be one of whole, digits, got "hex"',
    );
    expect(() => Tokenizer.fromJSON({ ...json, version: 4 })).toThrow('Not a turngym tokenizer');
  });
  it('spells a word it left out in subword pieces fitted over such words: the same after a space or a quote', () => {
    // Names made of recurring parts, as the search worlds' are; each name is too rare to be a piece of its own.
    const heads = ['Eld', 'Quin', 'Yar', 'Lam', 'Hol'];
    const tails = ['evik', 'ton', 'efield', 'berg', 'gard'];
    const names = heads.flatMap((head, i) => tails.filter((_, j) => j !== i).map((tail) => head + tail));
    const text = names.map((name, i) => `${name} met ${names[(i * 7) % names.length]} in town.`).join(' ');
    const tokenizer = Tokenizer.fit([text, text], { subwords: 40, minCount: 50 });
    const plain = Tokenizer.fit([text, text], { minCount: 50 });
    const unseen = 'Holgard'; // a head and a tail that never met
    const spelled = tokenizer.encode(` ${unseen}`);
    expect(spelled.length).toBeLessThan(plain.encode(` ${unseen}`).length);
    expect(spelled.length).toBeLessThanOrEqual(3); // the space byte and two pieces, not 8 bytes
    expect(tokenizer.encode(`"${unseen}"`).slice(1, -1)).toEqual(spelled.slice(1)); // the same ids after a quote
    // A word of the vocabulary comes with its twin: one id after a space, its twin after a quote.
    const twins = Tokenizer.fit([text, text], { subwords: 40 });
    const [spaced, ...none] = twins.encode(' met');
    const [, quoted, ...rest] = twins.encode('"met');
    expect([none, rest]).toEqual([[], []]);
    expect(twins.spaceVariants().plain[spaced!]).toBe(quoted);
    for (const sample of [` ${unseen} met Quinberg.`, 'émigré Ωmega 123', text.slice(0, 200)])
      expect(tokenizer.decode(tokenizer.encode(sample))).toBe(sample);
    const json = JSON.parse(JSON.stringify(tokenizer.toJSON()));
    expect(json.version).toBe(3);
    const restored = Tokenizer.fromJSON(json);
    expect(restored.encode(` ${unseen}`)).toEqual(spelled);
    expect(restored.fingerprint()).toBe(tokenizer.fingerprint());
    expect(() => Tokenizer.fit([text], { subwords: -1 })).toThrow('subwords must be an integer from 0');
  });
});
