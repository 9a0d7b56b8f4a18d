/** Helpers for the web env tests: the env under the wrappers, finding elements in observations, and counting Chromium processes. */
import { readdirSync, readFileSync } from 'node:fs';
import type { Env, Observation } from '../../../src/envs/env.js';
import { Rng } from '../../../src/core/rng.js';
import { type FormsTask, formsSuite } from '../../../src/envs/web/forms.js';
import type { WebEnv } from '../../../src/envs/web/env.js';
import { findElement, parseTree } from '../../../src/envs/web/tree.js';
import { Wrapper } from '../../../src/envs/wrappers.js';

/** The WebEnv under `make`'s wrappers (for its page and site state, which agents never get). */
export function bare(env: Env): WebEnv<never, unknown> {
  return (env instanceof Wrapper ? env.unwrapped : env) as unknown as WebEnv<never, unknown>;
}

/** The first reset seed whose forms task at `difficulty` has what a test needs (so tests name the form they want, not a number). */
export function formsSeed(difficulty: number, wanted: (task: FormsTask) => boolean): number {
  for (let seed = 0; seed < 10_000; seed++)
    if (wanted(formsSuite.generate(Rng.fromSeed(seed), difficulty))) return seed;
  throw new Error('no forms task in the first 10,000 seeds has what the test needs');
}

/** The id of the element with this role and name in an observation; fails the test when it is missing. */
export function idOf(observation: Observation, role: string, name: string): number {
  const element = findElement(parseTree(observation.text), role, name);
  if (!element) throw new Error(`no ${role} "${name}" in:\n${observation.text}`);
  return element.id;
}

export interface ProcessInfo {
  pid: number;
  ppid: number;
  pgid: number;
  state: string;
  comm: string;
}

/** Every live (not zombie) process on the machine, from /proc. */
export function processes(): ProcessInfo[] {
  const found: ProcessInfo[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const close = stat.lastIndexOf(')');
      const comm = stat.slice(stat.indexOf('(') + 1, close);
      const [state, ppid, pgid] = stat.slice(close + 2).split(' ');
      if (state === 'Z' || state === 'X') continue;
      found.push({ pid: Number(entry), ppid: Number(ppid), pgid: Number(pgid), state: state!, comm });
    } catch {
      // the process ended while we looked
    }
  }
  return found;
}

/** Browser processes started by this test process (Playwright launches Chromium as our direct child). */
export function ourBrowsers(): ProcessInfo[] {
  return processes().filter((p) => p.ppid === process.pid && /chrom/i.test(p.comm));
}

/**
 * Live processes in the process groups of the given browsers: the browser and every helper it started
 * (zygotes, renderers, the network service), even those orphaned by a killed browser.
 */
export function processesInGroups(groups: readonly number[]): ProcessInfo[] {
  return processes().filter((p) => groups.includes(p.pgid));
}

/** Polls until `condition` holds or `timeoutMs` passes; returns whether it held. */
export async function eventually(condition: () => boolean, timeoutMs = 10_000): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (condition()) return true;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return condition();
}
