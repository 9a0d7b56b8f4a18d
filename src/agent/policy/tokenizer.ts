/**
 * A word-level tokenizer with byte fallback, fitted to the environments' text.
 *
 * Text is split into pieces (a word or one punctuation mark, each with its leading space, a number, or a
 * run of whitespace); the most frequent pieces of the fitting text get their own ids and every other piece
 * is spelled as UTF-8 bytes, so any text encodes and `decode(encode(text)) === text`. Numbers are split
 * one of two ways (`NumberPieces`): whole (up to six digits with the leading space, one piece) or one digit
 * a piece. Special tokens mark the transcript roles (see src/agent/policy/chat.ts); they are never produced by
 * `encode`, so text cannot forge them.
 */
import { createHash } from 'node:crypto';
import { TurngymError } from '../../core/errors.js';

/** Special tokens, in id order: padding, end of a segment, the transcript roles, and the cut marker. */
export const SPECIAL_TOKENS = [
  '<|pad|>',
  '<|end|>',
  '<|tools|>',
  '<|task|>',
  '<|action|>',
  '<|observation|>',
  '<|cut|>',
] as const;
export type SpecialToken = (typeof SPECIAL_TOKENS)[number];

const BYTE_BASE = SPECIAL_TOKENS.length;
const PIECE_BASE = BYTE_BASE + 256;

/**
 * How numbers become pieces. `whole`: a number of up to six digits, with its leading space, is one piece
 * (` 702` and `702` are then two unrelated ids, and a number the fitting text never showed is spelled in
 * bytes). `digits`: every digit is a piece of its own and a space before a number is its own piece, so a
 * number has the same ids wherever it appears: copying it (`=> 702` into `answer(value="702")`, `F(54)`
 * into `i < 54`) is copying ten symbols, not a lookup learned number by number.
 */
export const NUMBER_PIECES = ['whole', 'digits'] as const;
export type NumberPieces = (typeof NUMBER_PIECES)[number];

const PIECE_PATTERNS: Record<NumberPieces, RegExp> = {
  whole: / ?\p{L}+| ?\p{N}{1,6}| ?[^\s\p{L}\p{N}]|\s+(?!\S)|\s+/gu,
  digits: / ?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]|\s+(?!\S)|\s+/gu,
};

/**
 * Serialised form of a tokenizer (`tokenizer.json` in a checkpoint). Version 1 splits numbers whole (and has
 * no `numbers` field); version 2 records how it splits them.
 */
export type TokenizerJson =
  | { kind: 'turngym-words-bytes'; version: 1; special: string[]; pieces: string[] }
  | { kind: 'turngym-words-bytes'; version: 2; numbers: NumberPieces; special: string[]; pieces: string[] }
  | {
      kind: 'turngym-words-bytes';
      version: 3;
      numbers: NumberPieces;
      special: string[];
      pieces: string[];
      subwords: string[];
    };

export interface FitOptions {
  /** Largest vocabulary, special and byte tokens included. Default 2048. */
  maxVocab?: number;
  /** Pieces seen fewer times than this are spelled in bytes. Default 2. */
  minCount?: number;
  /** How numbers are split (see `NumberPieces`). Default 'whole'. */
  numbers?: NumberPieces;
  /**
   * Subword pieces (of the vocabulary's ids) for words not in it, fitted by byte-pair merges over those words;
   * default 0 (such a word is spelled in bytes). See {@link Tokenizer}.
   */
  subwords?: number;
}

/** Longest subword piece, in characters. */
const MAX_SUBWORD_CHARS = 16;

/**
 * A word that is not a piece of the vocabulary is spelled in its subword pieces when the tokenizer has some
 * (version 3, `subwords` when fitting): its leading space as the space byte, then the longest subword at each
 * point (a character no subword covers, in its bytes). So a name never seen, made of parts seen in many others
 * (`Eldevik`: `Eld` `ev` `ik`), is a few recurring ids, the same after a space, a quote or a bracket.
 */
export class Tokenizer {
  private readonly pieceIds: Map<string, number>;
  private readonly subwordIds: Map<string, number>;

  private constructor(
    private readonly pieces: readonly string[],
    /** How this tokenizer splits numbers. */
    readonly numbers: NumberPieces,
    private readonly subwords: readonly string[] = [],
  ) {
    this.pieceIds = new Map(pieces.map((piece, index) => [piece, PIECE_BASE + index]));
    this.subwordIds = new Map(subwords.map((piece, index) => [piece, PIECE_BASE + pieces.length + index]));
  }

  /** Fits a vocabulary to `texts`: the most frequent pieces (ties broken alphabetically, so fitting is deterministic). */
  static fit(texts: Iterable<string>, options: FitOptions = {}): Tokenizer {
    const maxVocab = options.maxVocab ?? 2048;
    const minCount = options.minCount ?? 2;
    const numbers = options.numbers ?? 'whole';
    if (!NUMBER_PIECES.includes(numbers))
      throw new TurngymError(
        'INVALID_OPTIONS',
        `numbers must be one of ${NUMBER_PIECES.join(', ')}, got '${numbers}'.`,
      );
    if (!Number.isInteger(maxVocab) || maxVocab < PIECE_BASE) {
      throw new TurngymError(
        'INVALID_OPTIONS',
        `maxVocab must be an integer of at least ${PIECE_BASE} (special and byte tokens), got ${maxVocab}.`,
      );
    }
    const subwordCount = options.subwords ?? 0;
    if (!Number.isInteger(subwordCount) || subwordCount < 0 || subwordCount > maxVocab - PIECE_BASE)
      throw new TurngymError(
        'INVALID_OPTIONS',
        `subwords must be an integer from 0 to ${maxVocab - PIECE_BASE} (maxVocab less the special and byte tokens), got ${subwordCount}.`,
      );
    const counts = new Map<string, number>();
    for (const text of texts) {
      for (const piece of splitPieces(text, numbers)) counts.set(piece, (counts.get(piece) ?? 0) + 1);
    }
    const ranked = [...counts.entries()]
      // A one-byte piece is as cheap in bytes as in its own id.
      .filter(([piece, count]) => count >= minCount && Buffer.byteLength(piece) > 1)
      .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    const budget = maxVocab - PIECE_BASE - subwordCount;
    if (subwordCount === 0)
      return new Tokenizer(
        ranked.slice(0, budget).map(([piece]) => piece),
        numbers,
      );
    // A word is kept with its twin, with and without its leading space: a word read after a space (` historian`
    // in a page) is then written after a quote (`answer(text="historian")`) as the same word, which a copy
    // head can point at (`spaceVariants`); without its twin it would be spelled in other ids.
    const chosen = new Set<string>();
    for (const [piece] of ranked) {
      const word = piece.startsWith(' ') ? piece.slice(1) : piece;
      const forms = /^\p{L}{2,}$/u.test(word) ? [word, ` ${word}`] : [piece];
      const missing = forms.filter((form) => !chosen.has(form));
      if (chosen.size + missing.length <= budget) for (const form of missing) chosen.add(form);
    }
    const kept = [...chosen];
    const words = new Set(kept);
    const rest = new Map<string, number>();
    for (const [piece, count] of counts) {
      const word = piece.startsWith(' ') ? piece.slice(1) : piece;
      if (!words.has(piece) && /^\p{L}{2,}$/u.test(word)) rest.set(word, (rest.get(word) ?? 0) + count);
    }
    return new Tokenizer(kept, numbers, pairMerges(rest, subwordCount));
  }

  /** Restores a tokenizer from its JSON form; a malformed one is a clear error. */
  static fromJSON(json: unknown): Tokenizer {
    const value = json as {
      kind?: unknown;
      version?: unknown;
      numbers?: unknown;
      special?: unknown;
      pieces?: unknown;
    } | null;
    if (
      !value ||
      value.kind !== 'turngym-words-bytes' ||
      (value.version !== 1 && value.version !== 2 && value.version !== 3) ||
      !Array.isArray(value.pieces) ||
      !Array.isArray(value.special)
    ) {
      throw new TurngymError(
        'INVALID_OPTIONS',
        'Not a turngym tokenizer: expected {kind: "turngym-words-bytes", version: 1, 2 or 3, special, pieces}.',
      );
    }
    const numbers = value.version === 1 ? 'whole' : value.numbers;
    if (!NUMBER_PIECES.includes(numbers as NumberPieces)) {
      throw new TurngymError(
        'INVALID_OPTIONS',
        `The tokenizer's numbers field must be one of ${NUMBER_PIECES.join(', ')}, got ${JSON.stringify(numbers)}.`,
      );
    }
    if (value.special.join(' ') !== SPECIAL_TOKENS.join(' ')) {
      throw new TurngymError(
        'INVALID_OPTIONS',
        `The tokenizer's special tokens (${value.special.join(' ')}) differ from this version's (${SPECIAL_TOKENS.join(' ')}).`,
      );
    }
    const subwords = value.version === 3 ? (value as { subwords?: unknown }).subwords : [];
    if (
      !value.pieces.every((piece) => typeof piece === 'string') ||
      !Array.isArray(subwords) ||
      !subwords.every((piece) => typeof piece === 'string')
    )
      throw new TurngymError('INVALID_OPTIONS', 'Tokenizer pieces and subwords must be strings.');
    return new Tokenizer(value.pieces as string[], numbers as NumberPieces, subwords as string[]);
  }

  /** Version 1 for whole numbers (the form, and so the fingerprint, checkpoints written before version 2 have). */
  toJSON(): TokenizerJson {
    const special = [...SPECIAL_TOKENS];
    const pieces = [...this.pieces];
    if (this.subwords.length > 0)
      return {
        kind: 'turngym-words-bytes',
        version: 3,
        numbers: this.numbers,
        special,
        pieces,
        subwords: [...this.subwords],
      };
    if (this.numbers === 'whole') return { kind: 'turngym-words-bytes', version: 1, special, pieces };
    return { kind: 'turngym-words-bytes', version: 2, numbers: this.numbers, special, pieces };
  }

  /** Number of ids (special + 256 bytes + pieces + subwords). */
  get vocabSize(): number {
    return PIECE_BASE + this.pieces.length + this.subwords.length;
  }

  /** SHA-256 of the JSON form (checkpoints record it to detect a swapped tokenizer). */
  fingerprint(): string {
    return createHash('sha256').update(JSON.stringify(this.toJSON())).digest('hex');
  }

  /**
   * For each id, the id of the same piece with a leading space (`spaced`) and without one (`plain`): ` Port` and
   * `Port` are two ids, and a word read after a space is written after a quote. An id without such a twin (a byte,
   * a special token, a piece whose twin is not in the vocabulary) is its own in both. The copy head uses them to
   * write a word it points at either way.
   */
  spaceVariants(): { spaced: Int32Array; plain: Int32Array } {
    const spaced = Int32Array.from({ length: this.vocabSize }, (_, id) => id);
    const plain = Int32Array.from(spaced);
    this.pieces.forEach((piece, index) => {
      if (!piece.startsWith(' ') || piece.length < 2) return;
      const twin = this.pieceIds.get(piece.slice(1));
      if (twin === undefined) return;
      plain[PIECE_BASE + index] = twin;
      spaced[twin] = PIECE_BASE + index;
    });
    return { spaced, plain };
  }

  /**
   * Which ids a copy head may point at (1) and which not (0): not special tokens (an `<|end|>` read in the
   * context would end an action) and not punctuation (`)`, ` (`, `="`: brackets and quotes are as frequent in
   * a context as they are easy for the vocabulary to write, and pointing at them drowns the pointer); a
   * letter, a digit, the space byte, or a byte of a character the tokenizer never saw can be copied, and so can
   * a token made only of the characters of `punctuation` (after an optional leading space: `&` and ` &` for "&").
   */
  copyable(punctuation = ''): Uint8Array {
    const named = [...punctuation];
    return Uint8Array.from({ length: this.vocabSize }, (_, id) => {
      if (this.isSpecial(id)) return 0;
      const text = this.decode([id]);
      if (text === ' ' || /[\p{L}\p{N}\uFFFD]/u.test(text)) return 1;
      const bare = text.startsWith(' ') ? text.slice(1) : text;
      return bare !== '' && [...bare].every((character) => named.includes(character)) ? 1 : 0;
    });
  }

  /** The id of a special token. */
  special(token: SpecialToken): number {
    return SPECIAL_TOKENS.indexOf(token);
  }

  isSpecial(id: number): boolean {
    return id >= 0 && id < BYTE_BASE;
  }

  /** Token ids of `text` (never special tokens). */
  encode(text: string): number[] {
    const ids: number[] = [];
    for (const piece of splitPieces(text, this.numbers)) {
      const id = this.pieceIds.get(piece);
      if (id !== undefined) ids.push(id);
      else if (this.subwords.length > 0) this.spell(piece, ids);
      else pushBytes(piece, ids);
    }
    return ids;
  }

  /** A piece not in the vocabulary: its leading space as a byte, then the longest subword at each point. */
  private spell(piece: string, ids: number[]): void {
    let start = 0;
    if (piece.startsWith(' ')) {
      ids.push(BYTE_BASE + 32);
      start = 1;
    }
    while (start < piece.length) {
      let end = Math.min(piece.length, start + MAX_SUBWORD_CHARS);
      for (; end > start + 1; end--) {
        const id = this.subwordIds.get(piece.slice(start, end));
        if (id !== undefined) {
          ids.push(id);
          break;
        }
      }
      if (end > start + 1) {
        start = end;
        continue;
      }
      const character = String.fromCodePoint(piece.codePointAt(start)!);
      pushBytes(character, ids);
      start += character.length;
    }
  }

  /** Text of `ids`; special tokens are written as their names, invalid UTF-8 as U+FFFD. */
  decode(ids: readonly number[]): string {
    let text = '';
    let bytes: number[] = [];
    const flush = () => {
      if (bytes.length > 0) text += Buffer.from(bytes).toString('utf8');
      bytes = [];
    };
    for (const id of ids) {
      if (id >= BYTE_BASE && id < PIECE_BASE) {
        bytes.push(id - BYTE_BASE);
        continue;
      }
      flush();
      if (id >= 0 && id < BYTE_BASE) text += SPECIAL_TOKENS[id];
      else if (id >= PIECE_BASE && id < PIECE_BASE + this.pieces.length) text += this.pieces[id - PIECE_BASE];
      else if (id >= PIECE_BASE && id < this.vocabSize) text += this.subwords[id - PIECE_BASE - this.pieces.length];
      else
        throw new TurngymError(
          'INVALID_OPTIONS',
          `Token id ${id} is outside the vocabulary (0..${this.vocabSize - 1}).`,
        );
    }
    flush();
    return text;
  }
}

function pushBytes(text: string, ids: number[]): void {
  for (const byte of Buffer.from(text, 'utf8')) ids.push(BYTE_BASE + byte);
}

/**
 * Byte-pair merges over `words` (with counts), from their characters: `count` times, the most frequent adjacent
 * pair of symbols (ties: the first in code order) becomes one symbol. Returns the merged symbols, in order.
 */
function pairMerges(words: ReadonlyMap<string, number>, count: number): string[] {
  const spelled = [...words].map(([word, weight]) => ({ symbols: [...word], weight }));
  const merged: string[] = [];
  const known = new Set<string>();
  while (merged.length < count) {
    const pairs = new Map<string, number>();
    for (const { symbols, weight } of spelled) {
      for (let i = 0; i + 1 < symbols.length; i++) {
        const pair = `${symbols[i]}\u0000${symbols[i + 1]}`;
        pairs.set(pair, (pairs.get(pair) ?? 0) + weight);
      }
    }
    let best: string | undefined;
    let bestCount = 1;
    for (const [pair, seen] of pairs) {
      const joined = pair.replace('\u0000', '');
      if (joined.length > MAX_SUBWORD_CHARS || known.has(joined)) continue;
      if (seen > bestCount || (seen === bestCount && best !== undefined && pair < best)) {
        best = pair;
        bestCount = seen;
      }
    }
    if (best === undefined) break;
    const [left, right] = best.split('\u0000') as [string, string];
    const joined = left + right;
    merged.push(joined);
    known.add(joined);
    for (const word of spelled) {
      const next: string[] = [];
      for (let i = 0; i < word.symbols.length; i++) {
        if (i + 1 < word.symbols.length && word.symbols[i] === left && word.symbols[i + 1] === right) {
          next.push(joined);
          i++;
        } else next.push(word.symbols[i]!);
      }
      word.symbols = next;
    }
  }
  return merged;
}

/** Splits text into pieces (the unit of the vocabulary). */
export function splitPieces(text: string, numbers: NumberPieces = 'whole'): string[] {
  return text.match(PIECE_PATTERNS[numbers]) ?? [];
}
