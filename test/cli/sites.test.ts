import { type ChildProcess, spawn } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { Rng } from '../../src/core/rng.js';
import { formsSuite } from '../../src/envs/web/forms.js';
import { ROOT, runCli } from './helpers.js';

/** A `turngym sites` process, with what it has printed so far. */
interface SitesProcess {
  child: ChildProcess;
  output: { stdout: string; stderr: string };
  exited: Promise<number | null>;
  /** Resolves with the match once stdout matches `pattern` (fails after 60 s). */
  waitFor(pattern: RegExp): Promise<RegExpExecArray>;
}

function startSites(args: string[]): SitesProcess {
  const child = spawn(
    process.execPath,
    ['--no-node-snapshot', '--import', 'tsx', 'src/cli/main.ts', 'sites', ...args],
    { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const output = { stdout: '', stderr: '' };
  child.stdout!.on('data', (chunk: Buffer) => (output.stdout += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output.stderr += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
  const waitFor = (pattern: RegExp) =>
    new Promise<RegExpExecArray>((resolve, reject) => {
      const check = () => {
        const match = pattern.exec(output.stdout);
        if (!match) return false;
        clearTimeout(timer);
        child.stdout!.off('data', check);
        resolve(match);
        return true;
      };
      const timer = setTimeout(
        () => reject(new Error(`no ${pattern} in the output:\n${output.stdout}\n${output.stderr}`)),
        60_000,
      );
      if (!check()) child.stdout!.on('data', check);
    });
  return { child, output, exited, waitFor };
}

describe('turngym sites', () => {
  const started: SitesProcess[] = [];
  afterEach(() => {
    for (const sites of started.splice(0)) sites.child.kill('SIGKILL');
  });

  it('serves the three sites on 127.0.0.1 until SIGINT', async () => {
    const sites = startSites([]);
    started.push(sites);
    await sites.waitFor(/^wiki +http:\/\/\S+\/$/m);
    const titles: Record<string, string> = { shop: 'Turngym Shop', forms: 'Turngym Forms', wiki: 'Turngym Wiki' };
    for (const [name, title] of Object.entries(titles)) {
      const url = new RegExp(`^${name} +(http://127\\.0\\.0\\.1:\\d+/)$`, 'm').exec(sites.output.stdout)?.[1];
      expect(url, sites.output.stdout).toBeDefined();
      const response = await fetch(url!);
      expect(response.status).toBe(200);
      expect(await response.text()).toContain(title);
    }
    sites.child.kill('SIGINT');
    expect(await sites.exited).toBe(0);
    expect(sites.output.stderr).toContain('turngym sites: SIGINT: stopping');
  });

  it("shows an episode's content, prints its task, and prints the verdict of a submission", async () => {
    const sites = startSites(['--site', 'forms', '--seed', '4', '--difficulty', '2']);
    started.push(sites);
    const url = (await sites.waitFor(/^forms +(http:\/\/127\.0\.0\.1:\d+)\/$/m))[1]!;
    const task = formsSuite.generate(Rng.fromSeed(4), 2);
    // The task line follows the URL line, possibly in a later chunk of output.
    const [taskLine] = await sites.waitFor(/task \(seed 4, difficulty 2\): .*$/m);
    expect(taskLine).toBe(`task (seed 4, difficulty 2): ${task.prompt}`);

    // A visitor's first request opens a session with the episode's form; its cookie keeps the session.
    const page = await fetch(`${url}/`);
    expect(await page.text()).toContain(`<h1>${task.form.title}</h1>`);
    const cookie = page.headers.get('set-cookie')!.split(';')[0]!;
    const answers = new URLSearchParams(Object.entries(task.expected).filter(([, value]) => value !== ''));
    const submitted = await fetch(`${url}/submit`, {
      method: 'POST',
      body: answers,
      headers: { cookie },
      redirect: 'manual',
    });
    expect(submitted.status).toBe(303);
    const verdict = await sites.waitFor(/^forms: .*$/m);
    expect(verdict[0]).toBe('forms: solved (score 1): Every field was submitted as instructed.');
    sites.child.kill('SIGTERM');
    expect(await sites.exited).toBe(0);
  });

  // One CLI start per case, each several seconds on a loaded 2-core machine.
  it('exits with code 2 and a clear message on bad arguments', { timeout: 180_000 }, async () => {
    const cases: [string[], string][] = [
      [['sites', '--site', 'bank'], "turngym: Unknown site 'bank'. Sites: shop, forms, wiki."],
      [
        ['sites', '--site', 'wiki', '--seed', '1', '--difficulty', '5'],
        'turngym: --difficulty of the wiki site must be from 1 to 4, got 5.',
      ],
      [['sites', '--difficulty', '2'], 'turngym: --difficulty needs --seed (the episode to show).'],
      [['sites', '--port', '65535'], 'turngym: --port 65535 leaves no room for 3 sites.'],
    ];
    for (const [args, message] of cases) {
      const result = await runCli(args);
      expect(result.code, args.join(' ')).toBe(2);
      expect(result.stderr, args.join(' ')).toContain(message);
    }
  });
});
