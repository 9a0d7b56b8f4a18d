/**
 * `turngym sites`: serves the web envs' bundled sites (shop, forms, wiki) on 127.0.0.1 so that a person can
 * browse them, until Ctrl-C. Without `--seed` a site shows its default content; with `--seed` it shows the
 * content of that episode of `web/<site>-v0` (its catalogue, its form, the wiki for its question), prints the
 * task, and prints the verifier's verdict when an order is placed or the form submitted.
 */
import type { Command } from 'commander';
import { spec } from '../envs/registry.js';
import { Rng } from '../core/rng.js';
import type { WebTask, WebTaskSuite } from '../envs/web/env.js';
import { type Site, SiteServer } from '../envs/web/sites/server.js';
import { integer } from './common.js';
import { UsageError } from '../core/errors.js';

export const SITE_NAMES = ['shop', 'forms', 'wiki'] as const;
type SiteName = (typeof SITE_NAMES)[number];

interface SitesOptions {
  site?: string;
  port: number;
  seed?: number;
  difficulty?: number;
}

/** The task suite of `web/<name>-v0` (loaded lazily: it generates catalogues and knowledge bases). */
async function suiteOf(name: SiteName): Promise<WebTaskSuite<WebTask, object>> {
  const suite =
    name === 'shop'
      ? (await import('../envs/web/shop.js')).shopSuite
      : name === 'forms'
        ? (await import('../envs/web/forms.js')).formsSuite
        : (await import('../envs/web/wiki.js')).wikiSuite;
  return suite as unknown as WebTaskSuite<WebTask, object>;
}

/**
 * The suite's site, where every new visitor gets a fresh session with `task`'s content; once the visitor's
 * doing ends the episode (an order, a submission), the verdict is reported, once per session.
 */
function siteForTask(
  suite: WebTaskSuite<WebTask, object>,
  task: WebTask,
  report: (line: string) => void,
): Site<object> {
  const reported = new WeakSet<object>();
  return {
    name: suite.site.name,
    defaultState: () => suite.createState(task),
    async handle(request, state) {
      const answer = await suite.site.handle(request, state);
      if (!reported.has(state) && suite.finished(task, state)) {
        reported.add(state);
        const verdict = suite.verify(task, { state });
        report(
          `${suite.site.name}: ${verdict.success ? 'solved' : 'not solved'} (score ${verdict.score})${verdict.feedback ? `: ${verdict.feedback}` : ''}`,
        );
      }
      return answer;
    },
  };
}

export function sitesCommand(program: Command): void {
  program
    .command('sites')
    .description("serve the web envs' bundled sites on 127.0.0.1 for a person to browse, until Ctrl-C")
    .option('--site <name>', `one site: ${SITE_NAMES.join(', ')} (default: all three)`)
    .option(
      '--port <port>',
      'TCP port; with all three sites, PORT, PORT+1 and PORT+2 (0: any free ports)',
      integer('--port', { min: 0, max: 65535 }),
      0,
    )
    .option(
      '--seed <seed>',
      "show this episode's content (catalogue, form, question) and print its task",
      integer('--seed', { min: 0 }),
    )
    .option(
      '--difficulty <n>',
      "the episode's difficulty, with --seed (default: the env's default)",
      integer('--difficulty', { min: 1 }),
    )
    .action(async (options: SitesOptions) => {
      const names: SiteName[] = options.site === undefined ? [...SITE_NAMES] : [siteName(options.site)];
      if (options.difficulty !== undefined && options.seed === undefined)
        throw new UsageError('--difficulty needs --seed (the episode to show).');
      if (options.port > 0 && options.port + names.length - 1 > 65535)
        throw new UsageError(`--port ${options.port} leaves no room for ${names.length} sites.`);
      const log = (line: string) => console.log(line);

      const servers: SiteServer<object>[] = [];
      const stopAll = () => Promise.all(servers.map((server) => server.close()));
      try {
        for (const [index, name] of names.entries()) {
          const suite = await suiteOf(name);
          let site: Site<object> = suite.site;
          let task: WebTask | undefined;
          if (options.seed !== undefined) {
            const difficulty =
              options.difficulty ?? (spec(`web/${name}-v0`).kwargs.parse({}) as { difficulty: number }).difficulty;
            const [low, high] = suite.difficulties;
            if (difficulty < low || difficulty > high)
              throw new UsageError(
                `--difficulty of the ${name} site must be from ${low} to ${high}, got ${difficulty}.`,
              );
            // The same task as web/<name>-v0's reset({ seed, options: { difficulty } }).
            task = suite.generate(Rng.fromSeed(options.seed), difficulty);
            site = siteForTask(suite, task, log);
          }
          const server = new SiteServer(site);
          try {
            await server.start(options.port === 0 ? 0 : options.port + index);
          } catch (error) {
            throw new UsageError((error as Error).message);
          }
          servers.push(server);
          log(`${name.padEnd(5)}  ${server.origin}/`);
          if (task) log(`       task (seed ${options.seed}, difficulty ${task.difficulty}): ${task.prompt}`);
        }
      } catch (error) {
        await stopAll();
        throw error;
      }
      console.error('turngym sites: serving until Ctrl-C');

      await new Promise<void>((resolve) => {
        const stop = (signal: string) => {
          console.error(`turngym sites: ${signal}: stopping`);
          stopAll().then(
            () => resolve(),
            () => resolve(),
          );
        };
        process.once('SIGINT', () => stop('SIGINT'));
        process.once('SIGTERM', () => stop('SIGTERM'));
      });
    });
}

function siteName(value: string): SiteName {
  if ((SITE_NAMES as readonly string[]).includes(value)) return value as SiteName;
  throw new UsageError(`Unknown site '${value}'. Sites: ${SITE_NAMES.join(', ')}.`);
}
