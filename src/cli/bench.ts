/** `turngym bench NAME [--json]`: runs a benchmark from bench/ and prints its figures. */
import type { Command } from 'commander';
import { type BenchOption, type BenchOptions, benchmarks } from '../../bench/index.js';
import { printJson } from './common.js';
import { UsageError } from '../core/errors.js';

/** The flags of the options some benchmarks take (see `Benchmark.takes`). */
const FLAGS: Record<BenchOption, string> = {
  config: '--config',
  baselineDir: '--baseline-dir',
};

export function benchCommand(program: Command): void {
  program
    .command('bench')
    .description(`run a benchmark: ${Object.keys(benchmarks).join(', ')}`)
    .argument('<name>', 'benchmark name')
    .option('--json', 'print JSON only (the default prints JSON too, after a header)')
    .option('--quick', 'a short run (for smoke tests), not for reporting figures')
    .option('--config <name>', 'bench train: measure one configuration, guess-number or search (default: both)')
    .option(
      '--baseline-dir <dir>',
      'bench train, bench web-idle: also measure the turngym tree in DIR (a git worktree of another commit, with node_modules), alternating rounds, and report the ratios',
    )
    .action(async (name: string, options: BenchOptions & { json?: boolean }) => {
      const benchmark = benchmarks[name];
      if (!benchmark)
        throw new UsageError(`Unknown benchmark '${name}'. Available: ${Object.keys(benchmarks).join(', ')}.`);
      for (const [option, flag] of Object.entries(FLAGS) as [BenchOption, string][])
        if (options[option] !== undefined && !benchmark.takes?.includes(option))
          throw new UsageError(`${flag} is an option of ${takers(option)}, not of bench ${name}.`);
      if (!options.json) console.error(`# ${name}: ${benchmark.description}`);
      const { config, baselineDir, quick } = options;
      printJson(await benchmark.run({ quick, config, baselineDir }));
    });
}

/** The benchmarks that take `option`, as `bench a, bench b`. */
function takers(option: BenchOption): string {
  return Object.entries(benchmarks)
    .filter(([, benchmark]) => benchmark.takes?.includes(option))
    .map(([name]) => `bench ${name}`)
    .join(', ');
}
