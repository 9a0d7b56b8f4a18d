/**
 * Answer scoring as in SQuAD's official evaluation script: normalise (lower-case, drop punctuation, drop the
 * articles a/an/the, collapse whitespace), then exact match and token-level F1, each the maximum over the
 * accepted answers. One extension: punctuation and symbols are Unicode classes (SQuAD strips ASCII only).
 */

/** SQuAD's `normalize_answer`. */
export function normalizeAnswer(text: string): string {
  return text
    .toLowerCase()
    .replace(/[\p{P}\p{S}]/gu, '')
    .replace(/\b(a|an|the)\b/g, ' ')
    .split(/\s+/)
    .filter(Boolean)
    .join(' ');
}

/** 1 when the normalised prediction equals a normalised answer, else 0. */
export function exactMatch(prediction: string, answers: readonly string[]): number {
  const normalised = normalizeAnswer(prediction);
  return answers.some((answer) => normalizeAnswer(answer) === normalised) ? 1 : 0;
}

/** Token F1 of the prediction against the best-matching answer (SQuAD's `f1_score`, max over answers). */
export function tokenF1(prediction: string, answers: readonly string[]): number {
  const predicted = normalizeAnswer(prediction).split(' ').filter(Boolean);
  let best = 0;
  for (const answer of answers) {
    const truth = normalizeAnswer(answer).split(' ').filter(Boolean);
    if (predicted.length === 0 || truth.length === 0) {
      best = Math.max(best, predicted.length === truth.length ? 1 : 0);
      continue;
    }
    const counts = new Map<string, number>();
    for (const token of truth) counts.set(token, (counts.get(token) ?? 0) + 1);
    let common = 0;
    for (const token of predicted) {
      const left = counts.get(token) ?? 0;
      if (left > 0) {
        common++;
        counts.set(token, left - 1);
      }
    }
    if (common === 0) continue;
    const precision = common / predicted.length;
    const recall = common / truth.length;
    best = Math.max(best, (2 * precision * recall) / (precision + recall));
  }
  return best;
}
