/**
 * A word-level tokenizer with byte fallback, fitted to the environments' text.
 *
 * Text is split into pieces (a word, a number of up to six digits or one punctuation mark, each with its
 * leading space, or a run of whitespace); the most frequent pieces of the fitting text get their own ids
 * and every other piece is spelled as UTF-8 bytes, so any text encodes and `decode(encode(text)) === text`.
 * Special tokens mark the transcript roles (see src/agent/chat.ts); they are never produced by `encode`,
 * so text cannot forge them.
 */
import { createHash } from 'node:crypto';
import { TurngymError } from '../../envs/errors.js';

/** Special tokens, in id order: padding, end of a segment, the transcript roles, and the cut marker. */
export const SPECIAL_TOKENS = ['<|pad|>', '<|end|>', '<|tools|>', '<|task|>', '<|action|>', '<|observation|>', '<|cut|>'] as const;
export type SpecialToken = (typeof SPECIAL_TOKENS)[number];

const BYTE_BASE = SPECIAL_TOKENS.length;
const PIECE_BASE = BYTE_BASE + 256;
const PIECE_PATTERN = / ?\p{L}+| ?\p{N}{1,6}| ?[^\s\p{L}\p{N}]|\s+(?!\S)|\s+/gu;

/** Serialised form of a tokenizer (`tokenizer.json` in a checkpoint). */
export interface TokenizerJson {
  kind: 'turngym-words-bytes';
  version: 1;
  special: string[];
  pieces: string[];
}

export interface FitOptions {
  /** Largest vocabulary, special and byte tokens included. Default 2048. */
  maxVocab?: number;
  /** Pieces seen fewer times than this are spelled in bytes. Default 2. */
  minCount?: number;
}

export class Tokenizer {
  private readonly pieceIds: Map<string, number>;

  private constructor(private readonly pieces: readonly string[]) {
    this.pieceIds = new Map(pieces.map((piece, index) => [piece, PIECE_BASE + index]));
  }

  /** Fits a vocabulary to `texts`: the most frequent pieces (ties broken alphabetically, so fitting is deterministic). */
  static fit(texts: Iterable<string>, options: FitOptions = {}): Tokenizer {
    const maxVocab = options.maxVocab ?? 2048;
    const minCount = options.minCount ?? 2;
    if (!Number.isInteger(maxVocab) || maxVocab < PIECE_BASE) {
      throw new TurngymError('INVALID_OPTIONS', `maxVocab must be an integer of at least ${PIECE_BASE} (special and byte tokens), got ${maxVocab}.`);
    }
    const counts = new Map<string, number>();
    for (const text of texts) {
      for (const piece of splitPieces(text)) counts.set(piece, (counts.get(piece) ?? 0) + 1);
    }
    const kept = [...counts.entries()]
      // A one-byte piece is as cheap in bytes as in its own id.
      .filter(([piece, count]) => count >= minCount && Buffer.byteLength(piece) > 1)
      .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
      .slice(0, maxVocab - PIECE_BASE)
      .map(([piece]) => piece);
    return new Tokenizer(kept);
  }

  /** Restores a tokenizer from its JSON form; a malformed one is a clear error. */
  static fromJSON(json: unknown): Tokenizer {
    const value = json as Partial<TokenizerJson> | null;
    if (!value || value.kind !== 'turngym-words-bytes' || value.version !== 1 || !Array.isArray(value.pieces) || !Array.isArray(value.special)) {
      throw new TurngymError('INVALID_OPTIONS', 'Not a turngym tokenizer: expected {kind: "turngym-words-bytes", version: 1, special, pieces}.');
    }
    if (value.special.join(' ') !== SPECIAL_TOKENS.join(' ')) {
      throw new TurngymError('INVALID_OPTIONS', `The tokenizer's special tokens (${value.special.join(' ')}) differ from this version's (${SPECIAL_TOKENS.join(' ')}).`);
    }
    if (!value.pieces.every((piece) => typeof piece === 'string')) throw new TurngymError('INVALID_OPTIONS', 'Tokenizer pieces must be strings.');
    return new Tokenizer(value.pieces);
  }

  toJSON(): TokenizerJson {
    return { kind: 'turngym-words-bytes', version: 1, special: [...SPECIAL_TOKENS], pieces: [...this.pieces] };
  }

  /** Number of ids (special + 256 bytes + pieces). */
  get vocabSize(): number {
    return PIECE_BASE + this.pieces.length;
  }

  /** SHA-256 of the JSON form (checkpoints record it to detect a swapped tokenizer). */
  fingerprint(): string {
    return createHash('sha256').update(JSON.stringify(this.toJSON())).digest('hex');
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
    for (const piece of splitPieces(text)) {
      const id = this.pieceIds.get(piece);
      if (id !== undefined) ids.push(id);
      else for (const byte of Buffer.from(piece, 'utf8')) ids.push(BYTE_BASE + byte);
    }
    return ids;
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
      else if (id >= PIECE_BASE && id < this.vocabSize) text += this.pieces[id - PIECE_BASE];
      else throw new TurngymError('INVALID_OPTIONS', `Token id ${id} is outside the vocabulary (0..${this.vocabSize - 1}).`);
    }
    flush();
    return text;
  }
}

/** Splits text into pieces (the unit of the vocabulary). */
export function splitPieces(text: string): string[] {
  return text.match(PIECE_PATTERN) ?? [];
}
