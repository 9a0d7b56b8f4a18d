/** `turngym bench NAME [--json]`: runs a benchmark from bench/ and prints its figures. */
import type { Command } from 'commander';
import { benchmarks } from '../../bench/index.js';
import { printJson } from './common.js';
import { UsageError } from '../core/errors.js';

export function benchCommand(program: Command): void {
  program
    .command('bench')
    .description(`run a benchmark: ${Object.keys(benchmarks).join(', ')}`)
    .argument('<name>', 'benchmark name')
    .option('--json', 'print JSON only (the default prints JSON too, after a header)')
    .option('--quick', 'a short run (for smoke tests), not for reporting figures')
    .action(async (name: string, options: { json?: boolean; quick?: boolean }) => {
      const benchmark = benchmarks[name];
      if (!benchmark)
        throw new UsageError(`Unknown benchmark '${name}'. Available: ${Object.keys(benchmarks).join(', ')}.`);
      if (!options.json) console.error(`# ${name}: ${benchmark.description}`);
      printJson(await benchmark.run({ quick: options.quick }));
    });
}
