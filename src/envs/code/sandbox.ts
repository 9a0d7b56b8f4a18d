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
 *
 * Time: the host never waits on the isolate without a deadline. A call has the time limit (isolated-vm stops
 * the code) and a watchdog past it (the host disposes the isolate); building and configuring a context and
 * reading heap statistics have a set-up deadline; and code that runs outside any call (a callback the
 * garbage collector or a promise job starts between calls) is noticed by the isolate's CPU clock, checked
 * while no call runs: past the time limit the isolate is disposed, and the next call reports it.
 */
import type ivm from 'isolated-vm';
import { EnvFailureError, describeError } from '../../core/errors.js';
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

export const DEFAULT_LIMITS: SandboxLimits = {
  timeLimitMs: 1000,
  memoryLimitMb: 64,
  maxOutputChars: 4096,
  maxCodeChars: 20_000,
};

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
  loading ??= import('isolated-vm').then(
    (module) => (module as unknown as { default: IsolatedVm }).default ?? (module as unknown as IsolatedVm),
  );
  return loading;
}

const TIMED_OUT = 'Script execution timed out.';
// Extra time the host waits past the limit before it disposes an isolate that did not stop by itself.
const WATCHDOG_GRACE_MS = 1000;
// The longest the host waits on the isolate for set-up work (a context, its configuration, heap statistics):
// a healthy isolate takes milliseconds; one held by code running outside any call would block for good.
const SETUP_DEADLINE_MS = 5000;
// How often the host reads the CPU clock of an isolate that runs no call.
const IDLE_CHECK_MS = 250;
// CPU time between calls allowed beyond the time limit: building the next episode's context runs there too.
const IDLE_CPU_ALLOWANCE_MS = 500;

/** Why the host disposed an isolate (absent from the map: isolated-vm disposed it at the memory limit). */
type KillReason = 'time' | 'background';

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
  // Isolates the host disposed, and why (to tell them from a memory kill by isolated-vm).
  private readonly killReasons = new WeakMap<ivm.Isolate, KillReason>();
  // Calls running now, and the isolate's CPU clock (ns) when the last one ended.
  private callsInFlight = 0;
  private idleSince = 0n;
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
    if (this.isolate.isDisposed || (await this.heapFraction()) > RECYCLE_AT_HEAP_FRACTION) {
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
    const watchdog = this.startCall(deadline);
    try {
      let result = (await this.callDriver(
        slot,
        deadline,
        'start',
        cell.source,
        filename,
        cell.wrapped,
      )) as DriverResult;
      while (result[0] === 'pending') result = (await this.callDriver(slot, deadline, 'tick')) as DriverResult;
      const [, output, outputChars, value, error] = result;
      return {
        output,
        outputChars,
        ...(error === null ? { value: value ?? 'undefined' } : { error }),
        stateLost: false,
      };
    } catch (error) {
      return await this.recover(slot, error);
    } finally {
      this.endCall(watchdog);
    }
  }

  /**
   * Calls a global function of the current context with JSON arguments (hidden tests). Each call has the
   * full time limit; if a call kills the isolate, the caller sees `stateLost` and must load its code again.
   */
  async callFunction(
    name: string,
    argsJson: string,
    timeLimitMs = this.limits.timeLimitMs,
  ): Promise<CallOutcome & { stateLost?: boolean }> {
    this.assertOpen();
    if (!this.slot) throw new EnvFailureError('Sandbox.callFunction called before newEpisode()');
    const slot = this.slot;
    const deadline = performance.now() + Math.min(timeLimitMs, this.limits.timeLimitMs);
    const watchdog = this.startCall(deadline);
    try {
      const [status, text] = (await this.callDriver(slot, deadline, 'call', name, argsJson)) as [
        'ok' | 'error',
        string,
      ];
      return status === 'ok' ? { ok: true, value: text } : { ok: false, error: text };
    } catch (error) {
      const recovered = await this.recover(slot, error, Math.min(timeLimitMs, this.limits.timeLimitMs));
      return { ok: false, error: recovered.error ?? 'the call failed', stateLost: recovered.stateLost };
    } finally {
      this.endCall(watchdog);
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
    try {
      const statistics = await this.withSetupDeadline(this.isolate.getHeapStatistics());
      return statistics.used_heap_size + statistics.externally_allocated_size;
    } catch (error) {
      if (this.isolate.isDisposed) return 0;
      throw error;
    }
  }

  // -------------------------------------------------------------------------------------------------

  private async startIsolate(): Promise<void> {
    const isolate = new this.ivm.Isolate({ memoryLimit: this.limits.memoryLimitMb });
    this.isolate = isolate;
    this.prelude = await isolate.compileScript(PRELUDE, { filename: 'turngym:prelude' });
    this.idleSince = isolate.cpuTime;
    this.guardIdleTime(isolate);
  }

  private async prepareSlot(): Promise<Slot> {
    const isolate = this.isolate;
    const context = await this.withSetupDeadline(isolate.createContext());
    try {
      const driver = (await this.withSetupDeadline(
        this.prelude.run(context, { reference: true, timeout: SETUP_DEADLINE_MS }),
      )) as Slot['driver'];
      return { context, driver };
    } catch (error) {
      context.release();
      throw error;
    }
  }

  private async configure(slot: Slot): Promise<void> {
    const configured = slot.driver.apply(undefined, ['configure', this.seed, this.limits.maxOutputChars], {
      arguments: { copy: true },
      timeout: 1000,
    });
    await this.withSetupDeadline(configured);
  }

  /** Waits for set-up work on the isolate; past the set-up deadline the isolate is disposed (the work then rejects). */
  private async withSetupDeadline<T>(work: Promise<T>): Promise<T> {
    const timer = this.killAfter(SETUP_DEADLINE_MS, 'background');
    try {
      return await work;
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Disposes the isolate when it runs code outside any call (no call in flight, its CPU clock moving) for longer
   * than a call may run. Stops by itself once the isolate is disposed.
   */
  private guardIdleTime(isolate: ivm.Isolate): void {
    const budgetNs = BigInt(this.limits.timeLimitMs + IDLE_CPU_ALLOWANCE_MS) * 1_000_000n;
    const timer = setInterval(() => {
      if (isolate.isDisposed || this.closed) return clearInterval(timer);
      if (isolate !== this.isolate || this.callsInFlight > 0) return;
      if (isolate.cpuTime - this.idleSince > budgetNs) {
        this.kill(isolate, 'background');
        clearInterval(timer);
      }
    }, IDLE_CHECK_MS);
    timer.unref();
  }

  private kill(isolate: ivm.Isolate, reason: KillReason): void {
    if (isolate.isDisposed) return;
    this.killReasons.set(isolate, reason);
    isolate.dispose();
  }

  /**
   * Marks a call as running and starts its watchdog: a host timer that disposes the isolate if the call runs
   * far past its limit (it should never fire).
   */
  private startCall(deadline: number): ReturnType<typeof setTimeout> {
    this.callsInFlight++;
    return this.killAfter(deadline - performance.now() + WATCHDOG_GRACE_MS, 'time');
  }

  private endCall(watchdog: ReturnType<typeof setTimeout>): void {
    clearTimeout(watchdog);
    this.callsInFlight--;
    if (!this.isolate.isDisposed) this.idleSince = this.isolate.cpuTime;
  }

  private callDriver(slot: Slot, deadline: number, ...args: unknown[]): Promise<unknown> {
    const remaining = Math.max(1, Math.ceil(deadline - performance.now()));
    return slot.driver.apply(undefined, args, {
      arguments: { copy: true },
      result: { copy: true },
      timeout: remaining,
    });
  }

  /** A host timer that disposes the current isolate for `reason` after `ms`, unless cleared first. */
  private killAfter(ms: number, reason: KillReason): ReturnType<typeof setTimeout> {
    const isolate = this.isolate;
    const timer = setTimeout(() => this.kill(isolate, reason), ms);
    timer.unref();
    return timer;
  }

  /**
   * Turns a failed call into a result; a dead isolate is replaced (state lost). With the isolate alive, the call
   * was stopped at the time limit, or an exception got past the driver (it catches everything the cell throws,
   * so only agent code can raise one there, e.g. a promise job after the cell whose intrinsics it sabotaged):
   * either way the cell's error, and the episode goes on with its state.
   */
  private async recover(slot: Slot, error: unknown, timeLimitMs = this.limits.timeLimitMs): Promise<CellResult> {
    const message = describeError(error);
    if (!this.isolate.isDisposed) {
      let output = '';
      let outputChars = 0;
      try {
        // Drops pending timers and the pending cell, and returns the output written so far.
        const abort = slot.driver.apply(undefined, ['abort'], { result: { copy: true }, timeout: 1000 });
        [output, outputChars] = (await this.withSetupDeadline(abort)) as [string, number];
      } catch {
        // The output is lost if even the abort cannot run; the message still says what happened.
      }
      if (message !== TIMED_OUT)
        return {
          output,
          outputChars,
          error: `Uncaught ${message} (raised outside the cell's own code, by a promise job or a sabotaged built-in)`,
          stateLost: false,
        };
      return {
        output,
        outputChars,
        error: `TimeoutError: the code ran longer than the time limit (${timeLimitMs} ms) and was stopped. Variables and functions defined before are kept; pending timers were cleared.`,
        limit: 'time',
        stateLost: false,
      };
    }
    // Closed while the call ran: nothing to replace.
    this.assertOpen();
    // Otherwise isolated-vm disposed it for one of two reasons: our watchdog, or the memory limit (which may
    // have been hit by the background build of the next context, in which case the message only says disposed).
    const reason = this.killReasons.get(this.isolate);
    this.isolatesKilled++;
    await this.replaceIsolate();
    await this.enterContext();
    const restarted = 'The interpreter was restarted: all variables and functions defined so far were lost.';
    const messages: Record<KillReason | 'memory', string> = {
      memory: `RangeError: the code used more than the memory limit (${this.limits.memoryLimitMb} MB). ${restarted}`,
      time: `TimeoutError: the code did not stop at the time limit (${timeLimitMs} ms). ${restarted}`,
      background: `TimeoutError: code kept running after its call had returned (a callback or promise job outside any call) for longer than the time limit (${this.limits.timeLimitMs} ms). ${restarted}`,
    };
    return {
      output: '',
      outputChars: 0,
      error: messages[reason ?? 'memory'],
      limit: reason === undefined ? 'memory' : 'time',
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
      if (!this.isolate.isDisposed)
        throw new EnvFailureError(`The sandbox could not start a context: ${describeError(error)}`, { cause: error });
      this.isolatesKilled++;
      await this.replaceIsolate();
      slot = await this.prepareSlot();
      await this.configure(slot);
    }
    this.slot = slot;
    if (this.prepareSpare) this.spare = this.prepareSlot().catch(() => undefined);
  }

  /** Share of the memory limit the isolate's heap holds now, garbage included. */
  private async heapFraction(): Promise<number> {
    return (await this.heapUsedBytes()) / (this.limits.memoryLimitMb * 2 ** 20);
  }

  private assertOpen(): void {
    if (this.closed) throw new EnvFailureError('The sandbox is closed.');
  }
}
