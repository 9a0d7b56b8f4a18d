/**
 * The shape of the source tree, as JSON: files over 500 lines, the longest functions, the import graph between
 * folders, imports that run up the layers (cli → rl → agent → envs → core; DESIGN.md) and import cycles between
 * files. test/architecture.test.ts holds the layer rule with it; a redesign reports its before and after with it.
 *
 *   node --import tsx scripts/code-shape.ts [ROOT]     (ROOT defaults to this checkout)
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

/** Layers from the bottom up; a file may import its own layer and the ones below. */
export const LAYERS = ['core', 'envs', 'agent', 'rl', 'cli'] as const;

export interface CodeShape {
  files: number;
  lines: number;
  filesOver500Lines: Array<{ file: string; lines: number }>;
  longestFunctions: Array<{ file: string; name: string; lines: number }>;
  /** `from -> to: count` between folders (`envs/remote`, `rl`, ...), imports within a folder left out. */
  folderImports: Record<string, number>;
  /** Imports from a lower layer into a higher one (must be empty). */
  upwardImports: string[];
  /** Sets of files that import each other in a cycle. */
  fileCycles: string[][];
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return path.endsWith('.ts') && !path.endsWith('.d.ts') ? [path] : [];
  });
}

function layerOf(file: string): number {
  const top = file.split('/')[0]!;
  return LAYERS.indexOf(top as (typeof LAYERS)[number]);
}

/** Strongly connected components of more than one file (Tarjan). */
function cycles(graph: Map<string, Set<string>>): string[][] {
  let counter = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  const visit = (node: string): void => {
    index.set(node, counter);
    low.set(node, counter++);
    stack.push(node);
    onStack.add(node);
    for (const next of graph.get(node) ?? []) {
      if (!index.has(next)) {
        visit(next);
        low.set(node, Math.min(low.get(node)!, low.get(next)!));
      } else if (onStack.has(next)) low.set(node, Math.min(low.get(node)!, index.get(next)!));
    }
    if (low.get(node) === index.get(node)) {
      const component: string[] = [];
      let member: string;
      do {
        member = stack.pop()!;
        onStack.delete(member);
        component.push(member);
      } while (member !== node);
      if (component.length > 1) found.push(component.sort());
    }
  };
  for (const node of graph.keys()) if (!index.has(node)) visit(node);
  return found;
}

/** Measures the tree under `root/src`. */
export function codeShape(root: string): CodeShape {
  const src = join(root, 'src');
  const files = sourceFiles(src).sort();
  const graph = new Map<string, Set<string>>();
  const folderImports: Record<string, number> = {};
  const upwardImports: string[] = [];
  const functions: CodeShape['longestFunctions'] = [];
  const sizes: CodeShape['filesOver500Lines'] = [];
  let lines = 0;
  for (const path of files) {
    const file = relative(src, path);
    const text = readFileSync(path, 'utf8');
    const count = text.split('\n').length - (text.endsWith('\n') ? 1 : 0);
    lines += count;
    if (count > 500) sizes.push({ file, lines: count });
    const sourceFile = ts.createSourceFile(path, text, ts.ScriptTarget.Latest, true);
    const edges = new Set<string>();
    graph.set(file, edges);
    const lineOf = (pos: number): number => sourceFile.getLineAndCharacterOfPosition(pos).line;
    const walk = (node: ts.Node): void => {
      if (
        (ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) &&
        node.moduleSpecifier &&
        ts.isStringLiteral(node.moduleSpecifier)
      ) {
        const spec = node.moduleSpecifier.text;
        const typeOnly = ts.isImportDeclaration(node) ? node.importClause?.isTypeOnly === true : node.isTypeOnly;
        const target = spec.startsWith('.')
          ? relative(src, resolve(dirname(path), spec.replace(/\.js$/, '.ts')))
          : '..';
        // Imports of packages and of files outside src/ (package.json) are not edges of the graph.
        if (!target.startsWith('..')) {
          if (!typeOnly) edges.add(target);
          const from = dirname(file);
          const to = dirname(target);
          if (from !== to) {
            const key = `${from} -> ${to}`;
            folderImports[key] = (folderImports[key] ?? 0) + 1;
          }
          if (file !== 'index.ts' && layerOf(target) > layerOf(file)) upwardImports.push(`${file} -> ${target}`);
        }
      }
      const isFunction =
        ts.isFunctionDeclaration(node) ||
        ts.isMethodDeclaration(node) ||
        ts.isArrowFunction(node) ||
        ts.isFunctionExpression(node) ||
        ts.isConstructorDeclaration(node);
      if (isFunction && (node as ts.FunctionLikeDeclaration).body) {
        const span = lineOf(node.getEnd()) - lineOf(node.getStart(sourceFile)) + 1;
        const named = (node as ts.FunctionLikeDeclaration).name;
        let name = named ? named.getText(sourceFile) : '';
        if (!name && ts.isVariableDeclaration(node.parent)) name = node.parent.name.getText(sourceFile);
        if (!name && ts.isConstructorDeclaration(node)) name = 'constructor';
        functions.push({ file, name: name || '(anonymous)', lines: span });
      }
      ts.forEachChild(node, walk);
    };
    walk(sourceFile);
  }
  // Keep only graph edges that land on a source file (a folder's index.js resolves as given).
  for (const edges of graph.values()) for (const target of [...edges]) if (!graph.has(target)) edges.delete(target);
  return {
    files: files.length,
    lines,
    filesOver500Lines: sizes.sort((a, b) => b.lines - a.lines),
    longestFunctions: functions.sort((a, b) => b.lines - a.lines).slice(0, 10),
    folderImports: Object.fromEntries(Object.entries(folderImports).sort(([a], [b]) => a.localeCompare(b))),
    upwardImports,
    fileCycles: cycles(graph),
  };
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const root = resolve(process.argv[2] ?? join(dirname(fileURLToPath(import.meta.url)), '..'));
  console.log(JSON.stringify(codeShape(root), null, 2));
}
