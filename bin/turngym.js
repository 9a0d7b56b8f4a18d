#!/usr/bin/env -S node --no-node-snapshot
// Launcher for the turngym CLI. isolated-vm needs Node's --no-node-snapshot flag on Node 20; when the
// launcher was started without it (e.g. `node bin/turngym.js`), it runs itself again with the flag.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const here = fileURLToPath(import.meta.url);
if (!process.execArgv.includes('--no-node-snapshot')) {
  const child = spawn(process.execPath, ['--no-node-snapshot', ...process.execArgv, here, ...process.argv.slice(2)], {
    stdio: 'inherit',
  });
  // The child gets Ctrl-C from the terminal itself; the launcher only waits for it.
  for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => child.kill(signal));
  child.on('exit', (code, signal) => process.exit(code ?? (signal ? 128 + 2 : 1)));
} else {
  const main = new URL('../dist/src/cli/main.js', import.meta.url);
  if (!existsSync(fileURLToPath(main))) {
    console.error('turngym is not built yet: run `npm run build` (or `npm start`, which builds first).');
    process.exit(1);
  }
  await import(main.href);
}
