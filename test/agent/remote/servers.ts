/**
 * Real `turngym serve` processes for the pool, failover and scaling tests: each is the CLI run from source
 * (tsx) on a free loopback port, with a token, so the trainer role works.
 */
import { type ChildProcess, spawn } from 'node:child_process';
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

/** Spawns `turngym serve --port 0 --token TOKEN ...args` and waits until it (every worker) listens. */
export function startServer(args: string[] = []): Promise<ServerProcess> {
  const child = spawn(process.execPath, ['--no-node-snapshot', '--import', 'tsx', 'src/cli/main.ts', 'serve', '--port', '0', '--token', TOKEN, ...args], {
    cwd: ROOT,
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
      const match = workers ? /workers listening on (.+?) \(pool endpoints/.exec(stderr) : /listening on (ws:\/\/\S+) \(health/.exec(stderr);
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

/** Kills whatever is still running (SIGKILL: cleanup only). */
export function killAll(servers: readonly ServerProcess[]): void {
  for (const server of servers) if (server.child.exitCode === null && server.child.signalCode === null) server.child.kill('SIGKILL');
}

/** The `/healthz` body of an endpoint. */
export async function health(url: string): Promise<Record<string, unknown>> {
  const response = await fetch(url.replace(/^ws/, 'http').replace(/\/v1$/, '/healthz'));
  return (await response.json()) as Record<string, unknown>;
}

/** Polls `check` every 50 ms until it returns true, for at most `timeoutMs`. */
export async function eventually(check: () => boolean | Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
