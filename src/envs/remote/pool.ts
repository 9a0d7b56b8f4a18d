/**
 * Many env servers behind one `make`: a {@link RemotePool} spreads new sessions over a list of endpoints by
 * load, pins each session to the server that holds it, health-checks every server (`GET /healthz`), stops
 * sending to a dead one, and moves an episode whose server died to a healthy one.
 *
 *   const pool = await RemotePool.connect(['ws://10.0.0.5:8765', 'ws://10.0.0.6:8765-8768']);
 *   const env = await pool.make('puzzle/guess-number-v0', { difficulty: 4 });   // an Env, like make()'s
 *   await env.reset({ seed: 1 });
 *   await env.step('guess(16)');        // if that server dies here, the episode continues on another one
 *   await pool.close();
 *
 * **Session affinity.** A session lives in one server process; every request of that session goes to that
 * process (the pool keeps a connection per endpoint and never lets a load balancer choose). This is why the
 * pool wants one endpoint per server process, not one address in front of many.
 *
 * **Failover.** When a server's connection closes (the process died, the machine went away) every request
 * waiting on it is rejected at once with a retryable {@link ConnectionLostError}; when a server stops
 * answering `/healthz` (frozen, partitioned: no TCP close ever comes) the pool gives its connections up after
 * `healthFailures` failed checks, with the same error. A {@link PooledSession} then makes a new session on a
 * healthy endpoint, resets it with the episode's seed and options and replays the episode's actions, checking
 * that every observation and reward comes out as before; then it sends the step that failed. The caller sees
 * one slower step and nothing else. Replaying needs an env whose spec says `deterministic`; any other env's
 * episode ends with an {@link EnvFailureError} (a retryable infrastructure fault: reset to start again).
 */
import { lookup } from 'node:dns/promises';
import type { Action, Env, EnvSpec, ResetOptions, ResetResult, StepResult } from '../env.js';
import { EnvFailureError, ResetNeededError, TurngymError, describeError } from '../../core/errors.js';
import { type WrapOptions, WrappedEnv } from '../wrappers.js';
import {
  ConnectionLostError,
  RemoteClient,
  type RemoteClientOptions,
  RemoteError,
  type RemoteSession,
} from './client.js';
import { PROTOCOL_PATH } from './protocol.js';

/** Options of {@link RemotePool.connect}. */
export interface RemotePoolOptions {
  /** `agent` (default) or `trainer` (needed for `groundTruth`; needs the token). */
  role?: 'agent' | 'trainer';
  /** The servers' token, when they have one (all servers of a pool share it). */
  token?: string;
  /**
   * Fetch each episode's ground truth at reset (one pipelined request, trainer role), so that
   * `env.groundTruth()` answers synchronously, as information-gain rewards need. [default false]
   */
  groundTruth?: boolean;
  /** How often (ms) every endpoint's `/healthz` is checked. [default 1000] */
  healthIntervalMs?: number;
  /** How long (ms) a health check may take before it counts as failed. [default 2000] */
  healthTimeoutMs?: number;
  /** Consecutive failed checks after which a server whose connections are still open is given up. [default 2] */
  healthFailures?: number;
  /** New sessions an episode may try after its server died, before its step fails. [default 3] */
  maxFailovers?: number;
  /** How long (ms) `make` and failover wait for a healthy endpoint when none is up. [default 10000] */
  waitForEndpointMs?: number;
  /** How long (ms) a request waits for its reply. [default 120000] */
  requestTimeoutMs?: number;
  /** How long (ms) to wait for a connection to open. [default 5000] */
  connectTimeoutMs?: number;
  /** Where to log endpoint events (down, up, failover), one line each. [default: nowhere] */
  log?: (line: string) => void;
}

/** What the pool knows about one endpoint (see {@link RemotePool.status}). */
export interface EndpointStatus {
  url: string;
  /** `up`: new sessions may go there; `down`: failed (connection lost or health checks failed). */
  state: 'up' | 'down';
  /** Sessions this pool holds there. */
  sessions: number;
  /** Sessions the server reported at its last health check (all clients', not only this pool's). */
  serverSessions: number | undefined;
  /** Why it is down. */
  reason?: string;
}

/** Wire codes that mean the request itself is wrong: no other server would answer it differently. */
const CALLER_ERRORS = new Set(['UNKNOWN_ENV', 'VALIDATION_ERROR', 'UNAUTHORIZED', 'INVALID_JSON']);

const DEFAULTS = {
  healthIntervalMs: 1000,
  healthTimeoutMs: 2000,
  healthFailures: 2,
  maxFailovers: 3,
  waitForEndpointMs: 10_000,
  requestTimeoutMs: 120_000,
  connectTimeoutMs: 5000,
} as const;

/** One server process: its connections, its load, its health. */
class Endpoint {
  state: 'up' | 'down' = 'up';
  /** The `dns:` host this endpoint was found through, if any. */
  origin: string | undefined;
  reason: string | undefined;
  /** Open connections and how many sessions each holds or is being made on it. */
  readonly clients = new Map<RemoteClient, number>();
  private connecting: Promise<RemoteClient> | undefined;
  /** Sessions of this pool here (made and not closed, plus makes in progress). */
  sessions = 0;
  serverSessions: number | undefined;
  /** This pool's sessions when the server last reported its count (the rest are other clients'). */
  private ownAtReport = 0;
  failedChecks = 0;
  /** The sessions-per-connection limit from the server's welcome. */
  private perConnection = 64;

  constructor(
    readonly url: string,
    readonly healthUrl: string,
  ) {}

  /** Estimated sessions on the server: this pool's now, plus the others' at the last report. */
  get load(): number {
    return this.sessions + Math.max(0, (this.serverSessions ?? 0) - this.ownAtReport);
  }

  report(serverSessions: number): void {
    this.serverSessions = serverSessions;
    this.ownAtReport = this.sessions;
  }

  /** A connection with room for one more session (opening one when all are full), with that room taken. */
  async acquire(options: RemoteClientOptions): Promise<RemoteClient> {
    for (;;) {
      for (const [client, count] of this.clients) {
        if (!client.usable) {
          this.clients.delete(client);
          continue;
        }
        if (count < this.perConnection) {
          this.clients.set(client, count + 1);
          return client;
        }
      }
      if (this.state === 'down') throw new ConnectionLostError(this.url, `${this.url} is down (${this.reason}).`);
      this.connecting ??= RemoteClient.connect(this.url, options)
        .then((client) => {
          this.perConnection = client.limits?.max_sessions_per_connection ?? this.perConnection;
          this.clients.set(client, 0);
          return client;
        })
        .finally(() => {
          this.connecting = undefined;
        });
      await this.connecting;
    }
  }

  /** Gives back the room taken by {@link acquire} (the session was closed, lost, or never made). */
  release(client: RemoteClient): void {
    const count = this.clients.get(client);
    if (count !== undefined) this.clients.set(client, Math.max(0, count - 1));
  }

  /** Marks the endpoint down and drops its connections: their waiting requests fail at once. */
  down(reason: string): boolean {
    const changed = this.state === 'up';
    this.state = 'down';
    if (changed) this.reason = reason;
    // Abandoning a client calls back into down() (through its onLost): take the list out first.
    const clients = [...this.clients.keys()];
    this.clients.clear();
    for (const client of clients) client.abandon(reason);
    return changed;
  }
}

/** A session on one endpoint. */
interface Placement {
  endpoint: Endpoint;
  client: RemoteClient;
  env: RemoteSession;
}

/** A pool of env servers. Create it with {@link RemotePool.connect}. */
export class RemotePool {
  private readonly endpoints: Endpoint[] = [];
  /** `dns:HOST:PORT` entries: every address HOST resolves to is an endpoint, resolved again at each health round. */
  private readonly discovered: { host: string; port: number }[] = [];
  private readonly options: Required<Omit<RemotePoolOptions, 'token' | 'log'>> &
    Pick<RemotePoolOptions, 'token' | 'log'>;
  private readonly timer: NodeJS.Timeout;
  /** Every env made and not closed, by its session. */
  private readonly envs = new Map<PooledSession, PooledEnv>();
  private rotation = 0;
  private closed = false;
  /** Wakes `make`s waiting for an endpoint to come up. */
  private waiters: (() => void)[] = [];
  private checking: Promise<void> | undefined;

  private constructor(urls: readonly string[], options: RemotePoolOptions) {
    this.options = {
      role: options.role ?? (options.groundTruth ? 'trainer' : 'agent'),
      token: options.token,
      groundTruth: options.groundTruth ?? false,
      healthIntervalMs: options.healthIntervalMs ?? DEFAULTS.healthIntervalMs,
      healthTimeoutMs: options.healthTimeoutMs ?? DEFAULTS.healthTimeoutMs,
      healthFailures: options.healthFailures ?? DEFAULTS.healthFailures,
      maxFailovers: options.maxFailovers ?? DEFAULTS.maxFailovers,
      waitForEndpointMs: options.waitForEndpointMs ?? DEFAULTS.waitForEndpointMs,
      requestTimeoutMs: options.requestTimeoutMs ?? DEFAULTS.requestTimeoutMs,
      connectTimeoutMs: options.connectTimeoutMs ?? DEFAULTS.connectTimeoutMs,
      log: options.log,
    };
    if (this.options.groundTruth && this.options.role !== 'trainer') {
      throw new TurngymError(
        'INVALID_OPTIONS',
        "groundTruth needs the trainer role (and the servers' token): an agent may never read ground truth.",
      );
    }
    for (const entry of urls) {
      const dns = /^dns:(.+):(\d+)$/.exec(entry);
      if (dns) this.discovered.push({ host: dns[1]!, port: Number(dns[2]) });
      else this.endpoints.push(new Endpoint(entry, healthUrlOf(entry)));
    }
    this.timer = setInterval(() => void this.checkHealth(), this.options.healthIntervalMs);
    this.timer.unref();
  }

  /**
   * Checks every endpoint's health once and resolves with a pool; fails when no endpoint is healthy.
   * Endpoints are `ws://HOST:PORT/v1` URLs; `/v1` may be left out, `ws://` too (`HOST:PORT`), and a port
   * range (`HOST:8765-8768`) stands for one endpoint per port (as `turngym serve --workers 4` listens).
   * `dns:HOST:PORT` stands for every address HOST resolves to (a Kubernetes headless Service: one per
   * pod), resolved again at every health round, so that added replicas join and removed ones leave.
   */
  static async connect(endpoints: readonly string[], options: RemotePoolOptions = {}): Promise<RemotePool> {
    const dns = endpoints.map((entry) => entry.trim()).filter((entry) => entry.startsWith('dns:'));
    const fixed = parseEndpoints(
      endpoints.filter((entry) => !entry.trim().startsWith('dns:')),
      dns.length > 0,
    );
    const pool = new RemotePool([...fixed, ...dns.map(checkDnsEntry)], options);
    await pool.checkHealth();
    if (!pool.endpoints.some((endpoint) => endpoint.state === 'up')) {
      const reasons = pool.endpoints.map((endpoint) => `${endpoint.url}: ${endpoint.reason}`).join('; ');
      await pool.close();
      throw new EnvFailureError(
        `No env server of the pool is healthy (${reasons}). Start them with \`turngym serve\` and check the addresses.`,
      );
    }
    return pool;
  }

  /**
   * Makes an env on the least loaded healthy endpoint, in the standard wrappers as the registry's `make` gives (with
   * its `options`), that survives the death of its server (see the module's docs).
   */
  async make(env: string, kwargs: Record<string, unknown> = {}, options?: WrapOptions): Promise<PooledEnv> {
    if (this.closed) throw new TurngymError('INVALID_OPTIONS', 'The pool is closed; connect a new one.');
    const session = new PooledSession(this, env, kwargs, await this.place(env, kwargs, new Set()));
    const pooled = new PooledEnv(session, options);
    this.envs.set(session, pooled);
    return pooled;
  }

  /** Every endpoint's state and load. */
  status(): EndpointStatus[] {
    return this.endpoints.map((endpoint) => ({
      url: endpoint.url,
      state: endpoint.state,
      sessions: endpoint.sessions,
      serverSessions: endpoint.serverSessions,
      ...(endpoint.reason !== undefined && endpoint.state === 'down' ? { reason: endpoint.reason } : {}),
    }));
  }

  /** Closes every env of the pool and every connection. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.timer);
    await Promise.allSettled([...this.envs.values()].map((env) => env.close()));
    await Promise.allSettled(
      this.endpoints.flatMap((endpoint) => [...endpoint.clients.keys()].map((client) => client.close())),
    );
    for (const wake of this.waiters.splice(0)) wake();
  }

  // -------------------------------------------------------------------------------------------------------
  // Used by PooledSession

  /** @internal */
  get settings() {
    return this.options;
  }

  /** @internal Makes a session on the least loaded healthy endpoint not in `avoid`, trying others on failure. */
  async place(env: string, kwargs: Record<string, unknown>, avoid: ReadonlySet<Endpoint>): Promise<Placement> {
    const deadline = Date.now() + this.options.waitForEndpointMs;
    const tried = new Set<Endpoint>();
    let lastError: unknown;
    for (;;) {
      if (this.closed) throw new TurngymError('INVALID_OPTIONS', 'The pool is closed; connect a new one.');
      const endpoint = this.pick(avoid, tried) ?? this.pick(new Set(), tried);
      if (!endpoint) {
        if (Date.now() >= deadline) {
          throw new EnvFailureError(
            `No healthy env server to make ${env} on within ${this.options.waitForEndpointMs} ms${lastError ? ` (last error: ${describeError(lastError)})` : ''}; pool: ${this.describe()}.`,
          );
        }
        tried.clear();
        await this.waitForUp(deadline);
        continue;
      }
      endpoint.sessions++;
      let client: RemoteClient | undefined;
      try {
        client = await endpoint.acquire(this.clientOptions(endpoint));
        const remote = await client.makeSession(env, kwargs);
        return { endpoint, client, env: remote };
      } catch (error) {
        endpoint.sessions--;
        if (client) endpoint.release(client);
        // A wrong request (unknown env, bad kwargs, wrong token) gets the same answer from every server.
        if (!(error instanceof RemoteError) || CALLER_ERRORS.has(error.wireCode)) throw error;
        lastError = error;
        tried.add(endpoint);
        // A full server stays up for the sessions it has; one that cannot be reached or lost the connection is down.
        if (error.wireCode !== 'CAPACITY_REACHED') this.markDown(endpoint, describeError(error));
      }
    }
  }

  /** @internal The session ended: its room on the endpoint is free again. */
  unplace(placement: Placement): void {
    placement.endpoint.sessions = Math.max(0, placement.endpoint.sessions - 1);
    placement.endpoint.release(placement.client);
  }

  /** @internal */
  forget(env: PooledSession): void {
    this.envs.delete(env);
  }

  // -------------------------------------------------------------------------------------------------------

  private clientOptions(endpoint: Endpoint): RemoteClientOptions {
    return {
      role: this.options.role,
      token: this.options.token,
      requestTimeoutMs: this.options.requestTimeoutMs,
      connectTimeoutMs: this.options.connectTimeoutMs,
      // No reconnecting: a session lives in one process, and the pool moves episodes itself, at once.
      reconnectAttempts: 0,
      onLost: (reason) => this.markDown(endpoint, `connection lost: ${reason}`),
    };
  }

  /** The healthy endpoint with the least load, outside `avoid` and `tried`; ties go round-robin. */
  private pick(avoid: ReadonlySet<Endpoint>, tried: ReadonlySet<Endpoint>): Endpoint | undefined {
    let best: Endpoint | undefined;
    const count = this.endpoints.length;
    this.rotation = (this.rotation + 1) % count;
    for (let k = 0; k < count; k++) {
      const endpoint = this.endpoints[(this.rotation + k) % count]!;
      if (endpoint.state !== 'up' || avoid.has(endpoint) || tried.has(endpoint)) continue;
      if (!best || endpoint.load < best.load) best = endpoint;
    }
    return best;
  }

  /** @internal The endpoint failed (its connection was lost, its health checks failed): no new sessions go there. */
  markDown(endpoint: Endpoint, reason: string): void {
    if (endpoint.down(reason)) {
      this.options.log?.(`pool: ${endpoint.url} is down (${reason}); new sessions go elsewhere`);
      // Its sessions are gone with it: their envs make new ones elsewhere at their next reset or step.
      for (const env of this.envs.keys()) env.detachFrom(endpoint);
      // Check at once rather than at the next tick: a server that only dropped a connection comes back now.
      void this.checkHealth();
    }
  }

  /** Resolves the `dns:` entries, then checks every endpoint's /healthz (one round at a time). */
  private checkHealth(): Promise<void> {
    this.checking ??= this.discover()
      .then(() => Promise.all(this.endpoints.map((endpoint) => this.check(endpoint))))
      .then(() => undefined)
      .finally(() => {
        this.checking = undefined;
      });
    return this.checking;
  }

  private async discover(): Promise<void> {
    for (const { host, port } of this.discovered) {
      let addresses: string[];
      try {
        addresses = (await lookup(host, { all: true })).map((entry) =>
          entry.family === 6 ? `[${entry.address}]` : entry.address,
        );
      } catch (error) {
        this.options.log?.(`pool: could not resolve ${host} (${describeError(error)}); keeping its known endpoints`);
        continue;
      }
      const current = new Set(addresses.map((address) => `ws://${address}:${port}${PROTOCOL_PATH}`));
      for (const url of current) {
        if (this.endpoints.some((endpoint) => endpoint.url === url)) continue;
        this.endpoints.push(new Endpoint(url, healthUrlOf(url)));
        this.options.log?.(`pool: ${url} joined (${host})`);
      }
      for (const endpoint of this.endpoints) {
        if (endpoint.origin === host && !current.has(endpoint.url) && endpoint.state === 'up')
          this.markDown(endpoint, `no longer among the addresses of ${host}`);
      }
      for (const endpoint of this.endpoints) if (current.has(endpoint.url)) endpoint.origin = host;
    }
  }

  private async check(endpoint: Endpoint): Promise<void> {
    let failure: string | undefined;
    let definite = false;
    try {
      const response = await fetch(endpoint.healthUrl, { signal: AbortSignal.timeout(this.options.healthTimeoutMs) });
      const body = (await response.json()) as { status?: string; sessions?: number };
      if (response.ok && body.status === 'ok') {
        if (typeof body.sessions === 'number') endpoint.report(body.sessions);
      } else {
        failure = `health check answered HTTP ${response.status} (${body.status ?? 'no status'})`;
        definite = body.status === 'shutting_down';
      }
    } catch (error) {
      failure = `health check failed: ${describeError(error)}`;
    }
    if (this.closed) return;
    if (failure === undefined) {
      endpoint.failedChecks = 0;
      if (endpoint.state === 'down') {
        endpoint.state = 'up';
        endpoint.reason = undefined;
        this.options.log?.(`pool: ${endpoint.url} is up again`);
        for (const wake of this.waiters.splice(0)) wake();
      }
      return;
    }
    endpoint.failedChecks++;
    // A server that is shutting down or unreachable takes no new sessions at once; its open connections are
    // given up only after `healthFailures` checks, so that one slow answer on a busy machine moves nothing.
    if (endpoint.state === 'up' && (definite || endpoint.clients.size === 0)) this.markDown(endpoint, failure);
    else if (endpoint.failedChecks >= this.options.healthFailures)
      this.markDown(endpoint, `${endpoint.failedChecks} failed health checks; last: ${failure}`);
  }

  private waitForUp(deadline: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, Math.max(0, Math.min(deadline - Date.now(), this.options.healthIntervalMs)));
      this.waiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  private describe(): string {
    return this.endpoints
      .map((endpoint) => `${endpoint.url} ${endpoint.state}${endpoint.reason ? ` (${endpoint.reason})` : ''}`)
      .join(', ');
  }
}

/** The running episode, as replayed on another server: its reset, and each step's action and result. */
interface Episode {
  seed: number | undefined;
  options: Record<string, unknown> | undefined;
  text: string;
  steps: { action: Action; text: string; reward: number }[];
}

/**
 * An env of a {@link RemotePool}: the ordinary `Env` interface (it passes `checkEnv`), its {@link PooledSession}
 * in the standard wrapper stack. With the pool's `groundTruth` option, `groundTruth()` answers from the value
 * fetched at reset.
 */
export class PooledEnv extends WrappedEnv<PooledSession> {
  /** The URL of the server that holds this env's session now. */
  get endpoint(): string | undefined {
    return this.bare.placement?.endpoint.url;
  }

  /** Times an episode of this env moved to another server (replayed mid-episode, or its reset sent elsewhere). */
  get failovers(): number {
    return this.bare.failovers;
  }
}

/**
 * The bare env under a {@link PooledEnv}: a session pinned to one server, and failover to another server when
 * that one dies (see the module's docs). An episode that could not be moved needs a reset.
 */
export class PooledSession implements Env {
  readonly spec: EnvSpec;
  /** @internal The session it holds now (none once given up, until the next reset or step places one). */
  placement: Placement | undefined;
  /** Undefined before the first reset and once an episode is lost (so a step needs a reset). */
  private episode: Episode | undefined;
  private truth: { answer: string } | { error: unknown } | undefined;
  /** The endpoint of the session given up last (a failover avoids it). */
  private lostFrom: Endpoint | undefined;
  failovers = 0;

  /** @internal Made by {@link RemotePool.make}. */
  constructor(
    private readonly pool: RemotePool,
    private readonly envId: string,
    private readonly kwargs: Record<string, unknown>,
    placement: Placement,
  ) {
    this.placement = placement;
    this.spec = placement.env.spec;
  }

  async reset(options: ResetOptions = {}): Promise<ResetResult> {
    this.episode = undefined;
    this.truth = undefined;
    let lastError: unknown;
    const failed = new Set<Endpoint>();
    for (let attempt = 0; attempt <= this.pool.settings.maxFailovers; attempt++) {
      const placement = await this.ensurePlacement(failed);
      try {
        const result = await this.resetOn(placement, options.seed, options.options);
        this.episode = {
          seed: typeof result.info.seed === 'number' ? result.info.seed : options.seed,
          options: options.options,
          text: result.observation.text,
          steps: [],
        };
        if (attempt > 0) this.failovers++;
        return result;
      } catch (error) {
        if (!isRetryable(error)) throw error;
        lastError = error;
        failed.add(placement.endpoint);
        this.abandon(error);
      }
    }
    throw new EnvFailureError(
      `Could not reset ${this.spec.id} on any env server after ${this.pool.settings.maxFailovers + 1} attempts: ${describeError(lastError)}`,
    );
  }

  async step(action: Action): Promise<StepResult> {
    const episode = this.episode;
    if (!episode) throw new ResetNeededError(this.spec.id);
    let result: StepResult;
    try {
      if (!this.placement) throw new ConnectionLostError('(none)', 'The session was lost before this step.');
      result = await this.placement.env.step(action);
    } catch (error) {
      if (!isRetryable(error)) throw error;
      this.episode = undefined; // Lost, unless the failover moves it.
      result = await this.failover(episode, action, error);
      this.episode = episode;
    }
    episode.steps.push({ action, text: result.observation.text, reward: result.reward });
    return result;
  }

  /** The current episode's ground truth, fetched at reset (pool option `groundTruth`). */
  groundTruth(): string {
    if (!this.pool.settings.groundTruth) {
      throw new TurngymError(
        'NOT_SUPPORTED',
        `Ground truth of ${this.spec.id} was not fetched: connect the pool with groundTruth: true (trainer role, with the servers' token).`,
      );
    }
    if (!this.truth) throw new ResetNeededError(this.spec.id);
    if ('error' in this.truth) throw this.truth.error;
    return this.truth.answer;
  }

  /** Closes the session on its server. */
  async close(): Promise<void> {
    this.pool.forget(this);
    const placement = this.placement;
    this.placement = undefined;
    if (!placement) return;
    this.pool.unplace(placement);
    await placement.env.close();
  }

  // -------------------------------------------------------------------------------------------------------

  /** Resets on `placement`, fetching the ground truth in the same round trip when asked. */
  private async resetOn(
    placement: Placement,
    seed: number | undefined,
    options: Record<string, unknown> | undefined,
  ): Promise<ResetResult> {
    // The server serves a session's requests in order, so ground_truth sent right behind reset reads the new episode's.
    const reset = placement.env.reset({ seed, options });
    const truth = this.pool.settings.groundTruth
      ? placement.env.fetchGroundTruth().then(
          (answer) => ({ answer }),
          (error: unknown) => ({ error }),
        )
      : undefined;
    const result = await reset;
    const fetched = await truth;
    if (fetched && 'error' in fetched && isRetryable(fetched.error)) throw fetched.error;
    this.truth = fetched;
    return result;
  }

  private async ensurePlacement(avoid: ReadonlySet<Endpoint> = new Set()): Promise<Placement> {
    if (this.placement && this.placement.endpoint.state === 'up' && this.placement.client.usable) return this.placement;
    if (this.placement)
      this.abandon(new ConnectionLostError(this.placement.endpoint.url, `${this.placement.endpoint.url} is down.`));
    this.placement = await this.pool.place(this.envId, this.kwargs, avoid);
    return this.placement;
  }

  /** @internal The endpoint went down: let go of the session there, if this env's is. */
  detachFrom(endpoint: Endpoint): void {
    if (this.placement?.endpoint === endpoint) this.abandon(undefined);
  }

  /** Lets go of the current session (its server is gone or lost it). */
  private abandon(error: unknown): void {
    const placement = this.placement;
    if (!placement) return;
    this.placement = undefined;
    this.lostFrom = placement.endpoint;
    this.pool.unplace(placement);
    placement.client.forget(placement.env.session);
    if (error instanceof ConnectionLostError) this.pool.markDown(placement.endpoint, describeError(error));
  }

  /** Moves `episode` to a new session elsewhere, replays it, and sends `action` there. */
  private async failover(episode: Episode, action: Action, cause: unknown): Promise<StepResult> {
    const failed = this.placement?.endpoint ?? this.lostFrom;
    this.abandon(cause);
    if (!this.spec.deterministic) {
      throw new EnvFailureError(
        `The env server of this ${this.spec.id} episode was lost (${describeError(cause)}), and the env is not deterministic, so the episode cannot be replayed elsewhere. Reset to start a new episode.`,
        { cause },
      );
    }
    let lastError = cause;
    for (let attempt = 0; attempt < this.pool.settings.maxFailovers; attempt++) {
      let placement: Placement;
      try {
        placement = await this.ensurePlacement(failed ? new Set([failed]) : new Set());
      } catch (error) {
        lastError = error;
        break;
      }
      try {
        const reset = await this.resetOn(placement, episode.seed, episode.options);
        if (reset.observation.text !== episode.text) throw this.diverged(episode, 'the reset observation', placement);
        for (const [index, recorded] of episode.steps.entries()) {
          const replayed = await placement.env.step(recorded.action);
          if (replayed.observation.text !== recorded.text || replayed.reward !== recorded.reward)
            throw this.diverged(episode, `step ${index + 1}`, placement);
        }
        const result = await placement.env.step(action);
        this.failovers++;
        this.pool.settings.log?.(
          `pool: moved a ${this.spec.id} episode (seed ${episode.seed}, ${episode.steps.length} steps replayed) from ${failed?.url ?? '?'} to ${placement.endpoint.url}`,
        );
        return result;
      } catch (error) {
        if (!isRetryable(error)) throw error;
        lastError = error;
        this.abandon(error);
      }
    }
    throw new EnvFailureError(
      `The env server of this ${this.spec.id} episode was lost and the episode could not be moved to another one: ${describeError(lastError)}. Reset to start a new episode.`,
      {
        cause: lastError,
      },
    );
  }

  private diverged(episode: Episode, where: string, placement: Placement): EnvFailureError {
    return new EnvFailureError(
      `Replaying the ${this.spec.id} episode (seed ${episode.seed}) on ${placement.endpoint.url} gave a different result at ${where}, although the env says it is deterministic; the episode cannot be moved. Reset to start a new episode, and check that every server runs the same turngym version.`,
    );
  }
}

/**
 * Errors after which the same request can succeed on another session: the connection was lost, the server
 * is shutting down (CAPACITY_REACHED on a session request), or the server no longer knows the session.
 */
export function isRetryable(error: unknown): boolean {
  if (error instanceof ConnectionLostError) return true;
  return (
    error instanceof RemoteError && (error.wireCode === 'CAPACITY_REACHED' || error.wireCode === 'UNKNOWN_SESSION')
  );
}

/**
 * Endpoint URLs from what a user writes: `ws://HOST:PORT/v1`, without `/v1`, without `ws://`, or with a
 * port range (`HOST:8765-8768`, one endpoint per port). Duplicates are dropped.
 */
export function parseEndpoints(endpoints: readonly string[], allowEmpty = false): string[] {
  const urls: string[] = [];
  for (const raw of endpoints
    .flatMap((entry) => entry.split(','))
    .map((entry) => entry.trim())
    .filter(Boolean)) {
    const match = /^(?:(wss?):\/\/)?(\[[^\]]+\]|[^:/[\]]+):(\d+)(?:-(\d+))?(\/v1)?\/?$/.exec(raw);
    if (!match) {
      throw new TurngymError(
        'INVALID_OPTIONS',
        `'${raw}' is not an env server endpoint: write ws://HOST:PORT/v1, HOST:PORT, or a port range HOST:8765-8768.`,
      );
    }
    const [, scheme = 'ws', host, first, last] = match;
    const from = Number(first);
    const to = last === undefined ? from : Number(last);
    if (from < 1 || to > 65535 || to < from || to - from >= 1024) {
      throw new TurngymError(
        'INVALID_OPTIONS',
        `'${raw}': ports must be 1-65535, and a range FIRST-LAST must have FIRST <= LAST and at most 1024 ports.`,
      );
    }
    for (let port = from; port <= to; port++) {
      const url = `${scheme}://${host}:${port}${PROTOCOL_PATH}`;
      if (!urls.includes(url)) urls.push(url);
    }
  }
  if (urls.length === 0 && !allowEmpty)
    throw new TurngymError('INVALID_OPTIONS', 'The pool needs at least one env server endpoint.');
  return urls;
}

function checkDnsEntry(entry: string): string {
  if (!/^dns:[^:/\s]+:\d+$/.test(entry) || Number(entry.split(':')[2]) > 65535) {
    throw new TurngymError(
      'INVALID_OPTIONS',
      `'${entry}' is not a DNS endpoint: write dns:HOST:PORT (every address HOST resolves to becomes an endpoint).`,
    );
  }
  return entry;
}

/** `ws://HOST:PORT/v1` -> `http://HOST:PORT/healthz`. */
function healthUrlOf(url: string): string {
  return url.replace(/^ws/, 'http').replace(new RegExp(`${PROTOCOL_PATH}$`), '/healthz');
}
