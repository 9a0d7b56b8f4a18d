/**
 * Real `turngym serve` processes for the pool, failover and scaling tests: each is the CLI run from source
 * (tsx) on a free loopback port, with a token, so the trainer role works.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll } from 'vitest';
import { ROOT } from '../../cli/helpers.js';

export const TOKEN = 'pool-test-token-0123456789';

/** A running `turngym serve` (one process, or a supervisor with `--workers`). */
export interface ServerProcess {
  child: ChildProcess;
  /** Endpoint URLs: one, or one per worker. */
  urls: string[];
  /** Exit code (null when killed by a signal). */
  exited: Promise<number | null>;
  output(): string;
}

/**
 * Spawns `turngym serve --port 0 --token TOKEN ...args` and waits until it (every worker) listens; with
 * `namespace`, inside that network namespace (`ip netns exec`, which execs the server: the child is the server);
 * with `token: false`, without `--token` (the args or `env` give it); `env` is added to the environment.
 */
export function startServer(
  args: string[] = [],
  options: { namespace?: string; token?: boolean; env?: NodeJS.ProcessEnv } = {},
): Promise<ServerProcess> {
  const token = options.token === false ? [] : ['--token', TOKEN];
  const serve = [
    process.execPath,
    '--no-node-snapshot',
    '--import',
    'tsx',
    'src/cli/main.ts',
    'serve',
    '--port',
    '0',
    ...token,
    ...args,
  ];
  const command = options.namespace === undefined ? serve : ['ip', 'netns', 'exec', options.namespace, ...serve];
  const child = spawn(command[0]!, command.slice(1), {
    cwd: ROOT,
    env: { ...process.env, ...options.env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const workers = args.includes('--workers');
  return new Promise<ServerProcess>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`turngym serve did not start within 60 s:\n${stderr}`)), 60_000);
    void exited.then((code) => reject(new Error(`turngym serve exited (${code}) before listening:\n${stderr}`)));
    child.stderr!.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      const match = workers
        ? /workers listening on (.+?) \(pool endpoints/.exec(stderr)
        : /listening on ((?:ws|http):\/\/\S+) \(/.exec(stderr);
      if (!match) return;
      clearTimeout(timer);
      resolve({ child, urls: match[1]!.split(', '), exited, output: () => stderr });
    });
  });
}

/** Starts `count` separate server processes at once. */
export function startServers(count: number, args: string[] = []): Promise<ServerProcess[]> {
  return Promise.all(Array.from({ length: count }, () => startServer(args)));
}

/**
 * For a `describe` block: starts `count` servers before its tests and kills them after. The arrays are
 * filled in place by `beforeAll`, so destructure them at once: `const { servers, urls } = serversForSuite(3)`.
 */
export function serversForSuite(count: number): { servers: ServerProcess[]; urls: string[] } {
  const fleet = { servers: [] as ServerProcess[], urls: [] as string[] };
  beforeAll(async () => {
    fleet.servers.push(...(await startServers(count)));
    fleet.urls.push(...fleet.servers.map((server) => server.urls[0]!));
  });
  afterAll(() => killAll(fleet.servers));
  return fleet;
}

/** Kills whatever is still running (SIGKILL: cleanup only). */
export function killAll(servers: readonly ServerProcess[]): void {
  for (const server of servers)
    if (server.child.exitCode === null && server.child.signalCode === null) server.child.kill('SIGKILL');
}

/** The `/healthz` body of an endpoint. */
export async function health(url: string): Promise<Record<string, unknown>> {
  const response = await fetch(url.replace(/^ws/, 'http').replace(/\/v1$/, '/healthz'));
  return (await response.json()) as Record<string, unknown>;
}

/** Runs `use` with a loopback port that a real server (plain HTTP) holds, then frees the port. */
export async function withPortInUse<T>(use: (port: number) => Promise<T>): Promise<T> {
  const holder = createServer();
  await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
  try {
    return await use((holder.address() as AddressInfo).port);
  } finally {
    holder.close();
  }
}

/** A loopback port nothing listens on: one a server held and let go. */
export async function closedPort(): Promise<number> {
  return withPortInUse(async (port) => port);
}

/** Polls `check` every 50 ms until it returns true, for at most `timeoutMs`. */
export async function eventually(check: () => boolean | Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/**
 * A network namespace joined to this one by a veth pair: the server side has `serverAddress`, the host side
 * routes to it. `partition()` takes the server side's link down, so packets are dropped and no TCP close
 * ever reaches either end (a network partition, with the server process still running).
 */
export interface NetworkNamespace {
  name: string;
  serverAddress: string;
  partition(): void;
  remove(): void;
}

/** Whether this machine lets the tests create network namespaces (`ip netns`, root). */
export function networkNamespacesAvailable(): boolean {
  if (process.platform !== 'linux' || process.getuid?.() !== 0) return false;
  const probe = `turngym-probe-${process.pid}`;
  if (spawnSync('ip', ['netns', 'add', probe]).status !== 0) return false;
  spawnSync('ip', ['netns', 'delete', probe]);
  return true;
}

/** Creates namespace `index` of this process (10.231.N.0/24, N from the pid and index). */
export function createNetworkNamespace(index: number): NetworkNamespace {
  const name = `turngym-${process.pid}-${index}`;
  const hostLink = `tg${process.pid}h${index}`;
  const serverLink = `tg${process.pid}s${index}`;
  const subnet = `10.231.${(process.pid * 4 + index) % 250}`;
  const ip = (...args: string[]) => {
    const result = spawnSync('ip', args, { encoding: 'utf8' });
    if (result.status !== 0) throw new Error(`ip ${args.join(' ')} failed: ${result.stderr}`);
  };
  ip('netns', 'add', name);
  try {
    ip('link', 'add', hostLink, 'type', 'veth', 'peer', 'name', serverLink);
    ip('link', 'set', serverLink, 'netns', name);
    ip('addr', 'add', `${subnet}.1/24`, 'dev', hostLink);
    ip('link', 'set', hostLink, 'up');
    ip('netns', 'exec', name, 'ip', 'addr', 'add', `${subnet}.2/24`, 'dev', serverLink);
    ip('netns', 'exec', name, 'ip', 'link', 'set', serverLink, 'up');
    ip('netns', 'exec', name, 'ip', 'link', 'set', 'lo', 'up');
  } catch (error) {
    spawnSync('ip', ['netns', 'delete', name]);
    spawnSync('ip', ['link', 'delete', hostLink]);
    throw error;
  }
  return {
    name,
    serverAddress: `${subnet}.2`,
    partition: () => ip('netns', 'exec', name, 'ip', 'link', 'set', serverLink, 'down'),
    // Deleting the namespace deletes its end of the veth pair, and with it the host end.
    remove: () => {
      spawnSync('ip', ['netns', 'delete', name]);
      spawnSync('ip', ['link', 'delete', hostLink]);
    },
  };
}
