/**
 * The snippet maker as it was before issue 35 (item 8), kept as the benchmark's baseline and as the tests'
 * reference for the snippet's quality. For every match it counted the distinct words among all the
 * matches in the window starting there: every pair of matches, so quadratic in a document's matches (1.8 s
 * for `search("the of a and in by", 20)` over 20 documents of 100 KB). Not used by the engine.
 */
import { excerptAt, foldWord, type WordMatch } from '../src/envs/search/engine.js';

const SNIPPET_CHARS = 200;
const ASCII = /^[\x00-\x7f]*$/;
const ASCII_WORD_CHARACTER = /[A-Za-z0-9]/;

/**
 * The old `makeSnippet`: every match found, and the window chosen by comparing every pair; the excerpt
 * around the window is the engine's (it did not change). The same snippet as the engine's for documents
 * within its match limit.
 */
export function quadraticSnippet(text: string, queryWords: ReadonlySet<string>): string {
  const matches = everyMatch(text, queryWords);
  let windowStart: number | undefined;
  let best = -1;
  for (const first of matches) {
    const covered = new Set<string>();
    for (const other of matches)
      if (other.start >= first.start && other.end <= first.start + SNIPPET_CHARS) covered.add(other.word);
    if (covered.size > best) {
      best = covered.size;
      windowStart = first.start;
    }
  }
  return excerptAt(text, matches, windowStart);
}

/** Every occurrence of every query word, in text order (no limit). */
function everyMatch(text: string, queryWords: ReadonlySet<string>): WordMatch[] {
  const matches: WordMatch[] = [];
  if (ASCII.test(text)) {
    const lower = text.toLowerCase();
    for (const word of queryWords) {
      if (!ASCII.test(word)) continue;
      for (let at = lower.indexOf(word); at >= 0; at = lower.indexOf(word, at + 1)) {
        const end = at + word.length;
        if (!ASCII_WORD_CHARACTER.test(lower[at - 1] ?? ' ') && !ASCII_WORD_CHARACTER.test(lower[end] ?? ' '))
          matches.push({ start: at, end, word });
      }
    }
    return matches.sort((a, b) => a.start - b.start);
  }
  for (const match of text.matchAll(/[\p{L}\p{N}]+/gu)) {
    const word = foldWord(match[0]);
    if (queryWords.has(word)) matches.push({ start: match.index, end: match.index + match[0].length, word });
  }
  return matches;
}
