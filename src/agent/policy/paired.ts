/**
 * Paired comparison of two policies evaluated on the same tasks (same seeds, same split): which episodes
 * each solved that the other did not, and on how many tasks one's return was higher, with exact two-sided
 * sign tests. Two success rates 0.03 apart over 200 episodes can be noise or a real gain; the pairs say
 * which, because tasks both solve or both fail carry no information about the difference. Also the same
 * figures within each kind of task (`ResetInfo.kind`), for one evaluation or a comparison. With several
 * sampled plays of each task, a task counts for the policy when the policy solved it in more of them than the
 * baseline (its mean return likewise): the sign test over tasks, with each task's figure averaged first.
 */
import { TurngymError } from '../../core/errors.js';

/** What one episode contributes to a comparison. */
export interface EpisodeOutcome {
  success: boolean;
  return: number;
  /** The task's kind and variant, when the env reports them (see `ResetInfo.kind`). */
  kind?: string;
  variant?: string;
}

export interface PairedComparison {
  /** Tasks compared. */
  episodes: number;
  /** Tasks the policy solved and the baseline did not, and the reverse; with several plays a task, tasks
   * the policy solved in more of its plays than the baseline did, and the reverse. */
  solved_newly: number;
  solved_no_longer: number;
  /** Exact two-sided sign test (McNemar) on those discordant pairs: the chance of a split at least this uneven if neither policy were better. */
  success_p: number;
  /** Tasks where the policy's (mean) return was higher / lower than the baseline's (equal ones carry no information). */
  return_higher: number;
  return_lower: number;
  return_p: number;
  /** The same comparison within each kind of task (from the policy's outcomes), when the env reports kinds. */
  by_kind?: Record<string, PairedComparison>;
}

/**
 * Compares `policy` with `baseline`, task by task (the i-th outcome of each must be the same task; with
 * `samples` plays a task, outcomes come task-major, a task's plays one after another, as `evaluatePolicy`
 * lists them); with kinds in `policy`'s outcomes, also within each kind (`by_kind`).
 */
export function comparePaired(
  policy: readonly EpisodeOutcome[],
  baseline: readonly EpisodeOutcome[],
  options: { samples?: number; tolerance?: number } = {},
): PairedComparison {
  const samples = options.samples ?? 1;
  const tolerance = options.tolerance ?? 1e-9;
  if (policy.length !== baseline.length)
    throw new TurngymError(
      'INVALID_OPTIONS',
      `comparePaired: ${policy.length} episodes against ${baseline.length}; both must play the same tasks.`,
    );
  if (!Number.isInteger(samples) || samples < 1 || policy.length % samples !== 0) {
    throw new TurngymError(
      'INVALID_OPTIONS',
      `comparePaired: ${policy.length} episodes are not a whole number of tasks at ${samples} plays a task.`,
    );
  }
  const [tasks, baselineTasks] = [perTask(policy, samples), perTask(baseline, samples)];
  const overall = countPairs(tasks, baselineTasks, tolerance);
  const kinds = indicesByKind(tasks);
  if (kinds.size === 0) return overall;
  const byKind: Record<string, PairedComparison> = {};
  for (const [kind, indices] of kinds) {
    byKind[kind] = countPairs(
      indices.map((i) => tasks[i]!),
      indices.map((i) => baselineTasks[i]!),
      tolerance,
    );
  }
  return { ...overall, by_kind: byKind };
}

/** An evaluation's figures within one kind of task. */
export interface KindSummary {
  /** Episodes of this kind (every play, when each task was played several times). */
  episodes: number;
  success_rate: number;
  mean_return: number;
}

/** Success rate and mean return within each kind (alphabetical); undefined when no outcome has a kind. */
export function summarizeByKind(outcomes: readonly EpisodeOutcome[]): Record<string, KindSummary> | undefined {
  const kinds = indicesByKind(outcomes);
  if (kinds.size === 0) return undefined;
  const mean = (values: number[]) => values.reduce((sum, value) => sum + value, 0) / values.length;
  return Object.fromEntries(
    [...kinds].map(([kind, indices]) => {
      const group = indices.map((i) => outcomes[i]!);
      return [
        kind,
        {
          episodes: group.length,
          success_rate: mean(group.map((o) => (o.success ? 1 : 0))),
          mean_return: mean(group.map((o) => o.return)),
        },
      ];
    }),
  );
}

/** The outcomes with each variant appended to its kind (`roman lower=true`), to break a report down by variant. */
export function kindsWithVariants(outcomes: readonly EpisodeOutcome[]): EpisodeOutcome[] {
  return outcomes.map((outcome) =>
    outcome.kind !== undefined && outcome.variant !== undefined
      ? { ...outcome, kind: `${outcome.kind} ${outcome.variant}` }
      : outcome,
  );
}

/** Outcome indices grouped by kind, kinds in alphabetical order; empty when no outcome has a kind. */
export function indicesByKind(outcomes: readonly { kind?: string }[]): Map<string, number[]> {
  const groups = new Map<string, number[]>();
  if (!outcomes.some((outcome) => outcome.kind !== undefined)) return groups;
  outcomes.forEach((outcome, index) => {
    const kind = outcome.kind ?? '(none)';
    const group = groups.get(kind);
    if (group) group.push(index);
    else groups.set(kind, [index]);
  });
  return new Map([...groups].sort(([a], [b]) => a.localeCompare(b)));
}

/** One task's figures over its plays: the fraction solved and the mean return (its kind from the first play). */
interface TaskOutcome {
  solved: number;
  return: number;
  kind?: string;
}

function perTask(outcomes: readonly EpisodeOutcome[], samples: number): TaskOutcome[] {
  const tasks: TaskOutcome[] = [];
  for (let start = 0; start < outcomes.length; start += samples) {
    const plays = outcomes.slice(start, start + samples);
    const solved = plays.filter((play) => play.success).length / samples;
    const meanReturn = plays.reduce((sum, play) => sum + play.return, 0) / samples;
    tasks.push({ solved, return: meanReturn, ...(plays[0]!.kind !== undefined ? { kind: plays[0]!.kind } : {}) });
  }
  return tasks;
}

function countPairs(
  policy: readonly TaskOutcome[],
  baseline: readonly TaskOutcome[],
  tolerance: number,
): PairedComparison {
  let solvedNewly = 0;
  let solvedNoLonger = 0;
  let higher = 0;
  let lower = 0;
  policy.forEach((task, i) => {
    const other = baseline[i]!;
    if (task.solved > other.solved) solvedNewly++;
    if (task.solved < other.solved) solvedNoLonger++;
    if (task.return > other.return + tolerance) higher++;
    if (task.return < other.return - tolerance) lower++;
  });
  return {
    episodes: policy.length,
    solved_newly: solvedNewly,
    solved_no_longer: solvedNoLonger,
    success_p: signTest(solvedNewly, solvedNoLonger),
    return_higher: higher,
    return_lower: lower,
    return_p: signTest(higher, lower),
  };
}

/**
 * Exact two-sided sign test: with n = a + b pairs that differ, the probability under Binomial(n, 1/2) of a
 * split at least as uneven as a : b, i.e. min(1, 2 * P(X <= min(a, b))). 1 when no pair differs.
 */
export function signTest(a: number, b: number): number {
  const n = a + b;
  if (n === 0) return 1;
  const k = Math.min(a, b);
  // Sum C(n, i) / 2^n for i <= k in log space (n can be thousands).
  let logTerm = -n * Math.LN2; // log C(n, 0) / 2^n
  let tail = Math.exp(logTerm);
  for (let i = 1; i <= k; i++) {
    logTerm += Math.log((n - i + 1) / i);
    tail += Math.exp(logTerm);
  }
  return Math.min(1, 2 * tail);
}

/** A p-value as printed: three decimals, or one significant digit below 0.001. */
export function formatPValue(value: number): string {
  return value < 0.001 ? value.toExponential(1) : value.toFixed(3);
}

/** The settings that decide which tasks an evaluation played: two evaluations pair only when all are equal. */
export const TASK_SETTINGS = [
  'env',
  'kwargs',
  'episodes',
  'samples',
  'first_seed',
  'split',
  'temperature',
  'max_turns',
] as const;
export type TaskSettings = Partial<Record<(typeof TASK_SETTINGS)[number], unknown>>;

/**
 * The first task setting in which evaluation `now` differs from `was`, with each one's value as canonical JSON
 * (settings `now` leaves undefined are not compared); undefined when they played the same tasks.
 */
export function taskSettingDifference(
  was: TaskSettings,
  now: TaskSettings,
): { key: (typeof TASK_SETTINGS)[number]; was: string; now: string } | undefined {
  for (const key of TASK_SETTINGS) {
    if (now[key] === undefined) continue;
    const [before, after] = [canonicalJson(was[key]), canonicalJson(now[key])];
    if (before !== after) return { key, was: before, now: after };
  }
  return undefined;
}

/** JSON text with object keys sorted, so that two equal settings compare equal whatever their key order. */
function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, inner: unknown) =>
    inner !== null && typeof inner === 'object' && !Array.isArray(inner)
      ? Object.fromEntries(Object.entries(inner as Record<string, unknown>).sort(([a], [b]) => a.localeCompare(b)))
      : inner,
  );
}
