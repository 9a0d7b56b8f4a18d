/**
 * A project whose node_modules is laid out as a production install of turngym lays it out: beside turngym,
 * every package the lock file installs for production (links into this checkout's node_modules), none of the
 * dev-only ones. Tests of the package as users install it build on it.
 */
import { existsSync, readFileSync } from 'node:fs';
import { copyFile, mkdir, readdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import ts from 'typescript';
import { ROOT } from './cli/helpers.js';

/** Links every top-level production package of package-lock.json into `project`/node_modules. */
export async function linkProductionDependencies(project: string): Promise<void> {
  const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as {
    packages: Record<string, { dev?: boolean }>;
  };
  for (const [path, entry] of Object.entries(lock.packages)) {
    const topLevel = path.startsWith('node_modules/') && !path.slice('node_modules/'.length).includes('node_modules/');
    if (!topLevel || entry.dev || !existsSync(join(ROOT, path))) continue;
    await mkdir(dirname(join(project, path)), { recursive: true });
    await symlink(join(ROOT, path), join(project, path));
  }
}

/**
 * Puts turngym into `project`/node_modules/turngym as its build would: src/ and bench/ compiled to dist/ (each
 * file transpiled alone, without a type check: quicker than `npm run build`, and it writes nothing into this
 * checkout), bin/ and package.json. Returns the path of its bin/turngym.js.
 */
export async function installTranspiled(project: string): Promise<string> {
  const target = join(project, 'node_modules', 'turngym');
  const { options } = ts.convertCompilerOptionsFromJson(
    JSON.parse(readFileSync(join(ROOT, 'tsconfig.json'), 'utf8')).compilerOptions,
    ROOT,
  );
  options.module = ts.ModuleKind.ESNext; // what NodeNext gives in a "type": "module" package, which one file alone cannot tell
  for (const folder of ['src', 'bench']) {
    for (const file of await readdir(join(ROOT, folder), { recursive: true })) {
      if (!file.endsWith('.ts')) continue;
      const source = join(ROOT, folder, file);
      const { outputText } = ts.transpileModule(await readFile(source, 'utf8'), {
        compilerOptions: options,
        fileName: source,
      });
      const output = join(target, 'dist', relative(ROOT, source)).replace(/\.ts$/, '.js');
      await mkdir(dirname(output), { recursive: true });
      await writeFile(output, outputText);
    }
  }
  await mkdir(join(target, 'bin'), { recursive: true });
  await copyFile(join(ROOT, 'bin', 'turngym.js'), join(target, 'bin', 'turngym.js'));
  await copyFile(join(ROOT, 'package.json'), join(target, 'package.json'));
  return join(target, 'bin', 'turngym.js');
}
