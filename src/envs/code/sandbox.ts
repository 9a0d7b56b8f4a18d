/**
 * A JavaScript REPL sandboxed with isolated-vm: one V8 isolate per sandbox (its own heap with a memory cap),
 * a fresh context per episode, and a wall-clock limit on every call.
 *
 * Nothing from the host enters the context. The host talks to it through one driver function (prelude.ts)
 * and only copies of strings and numbers cross the boundary, so agent code cannot reach `process`,
 * `require`, the file system, the network or host timers, and a Proxy or getter on a returned value runs,
 * if at all, inside the sandbox under its limits.
 *
 * Speed: the isolate and the compiled prelude are reused across episodes; the next episode's context is
 * prepared in the background while the current one runs, so `newEpisode` usually only swaps it in.
 */
import type ivm from 'isolated-vm';
import { EnvFailureError, describeError } from '../errors.js';
import { PRELUDE } from './prelude.js';
import { prepareCell } from './rewrite.js';

/** Per-sandbox limits (each is a kwarg of the code/ envs). */
export interface SandboxLimits {
  /** Wall-clock time per call, in ms (default 1000). */
  timeLimitMs: number;
  /** Heap limit of the isolate, in MB (default 64; isolated-vm's minimum is 8). */
  memoryLimitMb: number;
  /** Console output kept per call, in characters (default 4096); the rest is cut with a visible marker. */
  maxOutputChars: number;
  /** Largest accepted cell, in characters (default 20,000). */
  maxCodeChars: number;
}

export const DEFAULT_LIMITS: SandboxLimits = { timeLimitMs: 1000, memoryLimitMb: 64, maxOutputChars: 4096, maxCodeChars: 20_000 };

/** What running one cell produced. */
export interface CellResult {
  /** Console output, cut at `maxOutputChars`. */
  output: string;
  /** Characters the cell wrote in all (more than `output.length` when output was cut). */
  outputChars: number;
  /** The last expression's value, formatted (absent when the cell failed). */
  value?: string;
  /** The uncaught error or the limit that stopped the cell, formatted for the agent. */
  error?: string;
  /** Which limit stopped the cell, if one did. */
  limit?: 'time' | 'memory';
  /** The isolate was replaced: every variable and function defined so far is gone. */
  stateLost: boolean;
}

/** A hidden test's outcome: the canonical text of the returned value, or the error. */
export type CallOutcome = { ok: true; value: string } | { ok: false; error: string };

type IsolatedVm = typeof ivm;
interface Slot {
  context: ivm.Context;
  driver: ivm.Reference<(...args: unknown[]) => unknown>;
}
type DriverResult = ['done', string, number, string | null, string | null] | ['pending'];

function releaseSlot(slot: Slot): void {
  // The driver reference pins its context; both must go for V8 to collect the episode's heap.
  slot.driver.release();
  slot.context.release();
}

let loading: Promise<IsolatedVm> | undefined;
/** Loads isolated-vm on first use (it is a native module; importing turngym must stay cheap). */
export function loadIsolatedVm(): Promise<IsolatedVm> {
  loading ??= import('isolated-vm').then((module) => (module as unknown as { default: IsolatedVm }).default ?? (module as unknown as IsolatedVm));
  return loading;
}

const TIMED_OUT = 'Script execution timed out.';
// Extra time the host waits past the limit before it disposes an isolate that did not stop by itself.
const WATCHDOG_GRACE_MS = 1000;

// An episode starts in a fresh isolate when garbage left by earlier episodes fills this share of the heap.
// V8 does not always collect released contexts before the cap (their handles are freed lazily), so without
// this an episode could be killed by memory it never allocated.
const RECYCLE_AT_HEAP_FRACTION = 0.5;

export class Sandbox {
  private isolate!: ivm.Isolate;
  private prelude!: ivm.Script;
  private slot: Slot | undefined;
  private spare: Promise<Slot | undefined> | undefined;
  private cells = 0;
  private seed = 0;
  private closed = false;
  // The isolate the watchdog disposed last (to tell a time kill from a memory kill).
  private disposedByWatchdog: ivm.Isolate | undefined;
  /** Isolates a limit killed during an episode (each time, the episode's state was lost). */
  isolatesKilled = 0;
  /** Isolates replaced between episodes because earlier episodes' garbage filled half the heap (nothing lost). */
  isolatesRecycled = 0;

  private constructor(
    private readonly ivm: IsolatedVm,
    readonly limits: SandboxLimits,
    private readonly prepareSpare: boolean,
  ) {}

  /**
   * Creates a sandbox (a new isolate). Call `newEpisode` before `run`. With `prepareSpare` (default true)
   * the next episode's context is built in the background; a one-off sandbox (hidden tests) turns it off.
   */
  static async create(limits: Partial<SandboxLimits> = {}, options: { prepareSpare?: boolean } = {}): Promise<Sandbox> {
    const sandbox = new Sandbox(await loadIsolatedVm(), { ...DEFAULT_LIMITS, ...limits }, options.prepareSpare ?? true);
    await sandbox.startIsolate();
    return sandbox;
  }

  /**
   * Starts a fresh context (no state from earlier episodes); `seed` seeds `Math.random`. The episode gets a
   * fresh isolate when the old one died between episodes or is half full of earlier episodes' garbage.
   */
  async newEpisode(seed: number): Promise<void> {
    this.assertOpen();
    this.seed = seed;
    this.cells = 0;
    if (this.slot) releaseSlot(this.slot);
    this.slot = undefined;
    let spare = this.spare ? await this.spare : undefined;
    this.spare = undefined;
    if (this.isolate.isDisposed || this.heapFraction() > RECYCLE_AT_HEAP_FRACTION) {
      // A dead isolate was killed by memory after the last cell (e.g. while it built `spare`).
      if (this.isolate.isDisposed) this.isolatesKilled++;
      else this.isolatesRecycled++;
      spare = undefined;
      await this.replaceIsolate();
    }
    await this.enterContext(spare);
  }

  /** Runs one cell: console output, the last value (promises awaited), within the time and memory limits. */
  async run(code: string): Promise<CellResult> {
    this.assertOpen();
    if (!this.slot) throw new EnvFailureError('Sandbox.run called before newEpisode()');
    const cell = prepareCell(code);
    const filename = `cell-${++this.cells}`;
    const slot = this.slot;
    const deadline = performance.now() + this.limits.timeLimitMs;
    const watchdog = this.watch(deadline);
    try {
      let result = (await this.callDriver(slot, deadline, 'start', cell.source, filename, cell.wrapped)) as DriverResult;
      while (result[0] === 'pending') result = (await this.callDriver(slot, deadline, 'tick')) as DriverResult;
      const [, output, outputChars, value, error] = result;
      return { output, outputChars, ...(error === null ? { value: value ?? 'undefined' } : { error }), stateLost: false };
    } catch (error) {
      return await this.recover(slot, error);
    } finally {
      clearTimeout(watchdog);
    }
  }

  /**
   * Calls a global function of the current context with JSON arguments (hidden tests). Each call has the
   * full time limit; if a call kills the isolate, the caller sees `stateLost` and must load its code again.
   */
  async callFunction(name: string, argsJson: string): Promise<CallOutcome & { stateLost?: boolean }> {
    this.assertOpen();
    if (!this.slot) throw new EnvFailureError('Sandbox.callFunction called before newEpisode()');
    const slot = this.slot;
    const deadline = performance.now() + this.limits.timeLimitMs;
    const watchdog = this.watch(deadline);
    try {
      const [status, text] = (await this.callDriver(slot, deadline, 'call', name, argsJson)) as ['ok' | 'error', string];
      return status === 'ok' ? { ok: true, value: text } : { ok: false, error: text };
    } catch (error) {
      const recovered = await this.recover(slot, error);
      return { ok: false, error: recovered.error ?? 'the call failed', stateLost: recovered.stateLost };
    } finally {
      clearTimeout(watchdog);
    }
  }

  /** Frees the isolate and everything in it. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const spare = this.spare;
    this.spare = undefined;
    this.slot = undefined;
    // Let a background context build finish (or fail) before the isolate goes away.
    await spare?.catch(() => undefined);
    if (!this.isolate.isDisposed) this.isolate.dispose();
  }

  /** Bytes used on the isolate's heap, garbage included (0 once it is disposed); for soak tests and benchmarks. */
  async heapUsedBytes(): Promise<number> {
    if (this.isolate.isDisposed) return 0;
    const statistics = await this.isolate.getHeapStatistics();
    return statistics.used_heap_size + statistics.externally_allocated_size;
  }

  // -------------------------------------------------------------------------------------------------

  private async startIsolate(): Promise<void> {
    this.isolate = new this.ivm.Isolate({ memoryLimit: this.limits.memoryLimitMb });
    this.prelude = await this.isolate.compileScript(PRELUDE, { filename: 'turngym:prelude' });
  }

  private async prepareSlot(): Promise<Slot> {
    const isolate = this.isolate;
    const context = await isolate.createContext();
    try {
      const driver = (await this.prelude.run(context, { reference: true, timeout: 5000 })) as Slot['driver'];
      return { context, driver };
    } catch (error) {
      context.release();
      throw error;
    }
  }

  private async configure(slot: Slot): Promise<void> {
    await slot.driver.apply(undefined, ['configure', this.seed, this.limits.maxOutputChars], {
      arguments: { copy: true },
      timeout: 1000,
    });
  }

  private callDriver(slot: Slot, deadline: number, ...args: unknown[]): Promise<unknown> {
    const remaining = Math.max(1, Math.ceil(deadline - performance.now()));
    return slot.driver.apply(undefined, args, { arguments: { copy: true }, result: { copy: true }, timeout: remaining });
  }

  /** A host timer that disposes the isolate if a call runs far past its limit (it should never fire). */
  private watch(deadline: number): ReturnType<typeof setTimeout> {
    const isolate = this.isolate;
    const timer = setTimeout(() => {
      if (isolate.isDisposed) return;
      this.disposedByWatchdog = isolate;
      isolate.dispose();
    }, deadline - performance.now() + WATCHDOG_GRACE_MS);
    timer.unref();
    return timer;
  }

  /** Turns a failed call into a result; a dead isolate is replaced (state lost). */
  private async recover(slot: Slot, error: unknown): Promise<CellResult> {
    const message = describeError(error);
    if (!this.isolate.isDisposed) {
      if (message !== TIMED_OUT) throw new EnvFailureError(`The sandbox failed: ${message}`, { cause: error });
      // isolated-vm stopped the code; the isolate and the cell's earlier state survive.
      let output = '';
      let outputChars = 0;
      try {
        [output, outputChars] = (await slot.driver.apply(undefined, ['abort'], { result: { copy: true }, timeout: 1000 })) as [string, number];
      } catch {
        // The output is lost if even the abort cannot run; the limit message still says what happened.
      }
      const seconds = this.limits.timeLimitMs;
      return {
        output,
        outputChars,
        error: `TimeoutError: the code ran longer than the time limit (${seconds} ms) and was stopped. Variables and functions defined before are kept; pending timers were cleared.`,
        limit: 'time',
        stateLost: false,
      };
    }
    // Closed while the call ran: nothing to replace.
    this.assertOpen();
    // Otherwise isolated-vm disposed it for one of two reasons: our watchdog, or the memory limit (which may
    // have been hit by the background build of the next context, in which case the message only says disposed).
    const memory = this.disposedByWatchdog !== this.isolate;
    this.isolatesKilled++;
    await this.replaceIsolate();
    await this.enterContext();
    return {
      output: '',
      outputChars: 0,
      error: memory
        ? `RangeError: the code used more than the memory limit (${this.limits.memoryLimitMb} MB). The interpreter was restarted: all variables and functions defined so far were lost.`
        : `TimeoutError: the code did not stop at the time limit (${this.limits.timeLimitMs} ms). The interpreter was restarted: all variables and functions defined so far were lost.`,
      limit: memory ? 'memory' : 'time',
      stateLost: true,
    };
  }

  /** Disposes the isolate (if alive) with its contexts and starts a new one; no context is entered yet. */
  private async replaceIsolate(): Promise<void> {
    if (this.slot) releaseSlot(this.slot);
    this.slot = undefined;
    const spare = this.spare;
    this.spare = undefined;
    await spare;
    if (!this.isolate.isDisposed) this.isolate.dispose();
    await this.startIsolate();
  }

  /**
   * Makes `slot` (or a new context) current, configured for this episode's seed, and starts building the next
   * episode's context. If the isolate dies meanwhile (a memory kill found late), it starts once more on a new one.
   */
  private async enterContext(slot?: Slot): Promise<void> {
    try {
      slot ??= await this.prepareSlot();
      await this.configure(slot);
    } catch (error) {
      if (!this.isolate.isDisposed) throw new EnvFailureError(`The sandbox could not start a context: ${describeError(error)}`, { cause: error });
      this.isolatesKilled++;
      await this.replaceIsolate();
      slot = await this.prepareSlot();
      await this.configure(slot);
    }
    this.slot = slot;
    if (this.prepareSpare) this.spare = this.prepareSlot().catch(() => undefined);
  }

  /** Share of the memory limit the isolate's heap holds now, garbage included. */
  private heapFraction(): number {
    const statistics = this.isolate.getHeapStatisticsSync();
    return (statistics.used_heap_size + statistics.externally_allocated_size) / (this.limits.memoryLimitMb * 2 ** 20);
  }

  private assertOpen(): void {
    if (this.closed) throw new EnvFailureError('The sandbox is closed.');
  }
}
