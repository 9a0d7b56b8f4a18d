/** `turngym list [--json]`: the registered environments. */
import type { Command } from 'commander';
import { toolJsonSchema } from '../envs/actions.js';
import { list, spec } from '../envs/registry.js';
import { collect, importModules, printJson } from './common.js';

export function listCommand(program: Command): void {
  program
    .command('list')
    .description('list the registered environments')
    .option('--json', 'print JSON (ids, descriptions, tools as JSON Schema)')
    .option('--import <module>', 'import a module that registers envs (repeatable)', collect, [])
    .action(async (options: { json?: boolean; import: string[] }) => {
      await importModules(options.import);
      const specs = list().map((id) => spec(id));
      if (options.json) {
        printJson(
          specs.map((s) => ({
            id: s.id,
            description: s.description,
            max_turns: s.maxTurns,
            deterministic: s.deterministic,
            tools: s.tools.map((tool) => ({ name: tool.name, description: tool.description, parameters: toolJsonSchema(tool) })),
          })),
        );
        return;
      }
      const width = Math.max(...specs.map((s) => s.id.length));
      for (const s of specs) {
        console.log(`${s.id.padEnd(width)}  ${s.description}  [tools: ${s.tools.map((t) => t.name).join(', ')}; ${s.maxTurns} turns]`);
      }
    });
}
