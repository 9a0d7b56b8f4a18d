/**
 * REPL rewriting of a cell, so that state persists across separate evaluations the way an agent expects.
 *
 * Cells run with indirect `eval` in the context's global scope, where `var` and function declarations
 * become global bindings that later cells see, but `let`, `const` and `class` would stay local to the one
 * evaluation. So top-level `let`/`const` become `var` (columns kept: `const` -> `var  `) and top-level
 * `class A {}` becomes `var A = class A {};`. Redeclaring a name in a later cell is then allowed, as in a
 * browser console's REPL mode. A cell with top-level `await` is wrapped in an async function (the approach
 * of Node's REPL, lib/internal/repl/await.js): its declared names are hoisted as `var`s outside the wrapper,
 * declarations inside become assignments, function declarations are copied to the global object, and the
 * last expression statement is returned. Line numbers are kept, so stack traces point at the agent's lines.
 *
 * Code that acorn cannot parse is passed through unchanged: V8 then reports the syntax error in its own words.
 */
import { parse } from 'acorn';

/** A cell ready for the sandbox driver. */
export interface PreparedCell {
  source: string;
  /** The source evaluates to an async function to be called with the global object (top-level await). */
  wrapped: boolean;
}

/** The wrapper's parameter: the real global object, which the driver passes in. */
export const GLOBAL_PARAMETER = '__turngym_global__';

// A cell without these words needs no rewriting (the common case; skips the parse).
const MAY_NEED_REWRITE = /\b(?:let|const|class|await)\b/;

interface Node {
  type: string;
  start: number;
  end: number;
  [key: string]: unknown;
}
interface Edit {
  at: number;
  end: number;
  text: string;
}

/** Rewrites a cell's top-level declarations (and top-level await) for REPL semantics. */
export function prepareCell(code: string): PreparedCell {
  if (!MAY_NEED_REWRITE.test(code)) return { source: code, wrapped: false };
  let program: Node;
  try {
    program = parse(code, {
      ecmaVersion: 'latest',
      sourceType: 'script',
      allowAwaitOutsideFunction: true,
    }) as unknown as Node;
  } catch {
    return { source: code, wrapped: false };
  }
  const body = program.body as Node[];
  return hasTopLevelAwait(program)
    ? wrapAsync(code, body)
    : { source: applyEdits(code, declarationEdits(body)), wrapped: false };
}

function declarationEdits(body: Node[]): Edit[] {
  const edits: Edit[] = [];
  for (const statement of body) {
    if (statement.type === 'VariableDeclaration' && statement.kind !== 'var') {
      const kind = statement.kind as string;
      edits.push({ at: statement.start, end: statement.start + kind.length, text: 'var'.padEnd(kind.length) });
    } else if (statement.type === 'ClassDeclaration') {
      const name = (statement.id as Node & { name: string }).name;
      edits.push(
        { at: statement.start, end: statement.start, text: `var ${name} = ` },
        { at: statement.end, end: statement.end, text: ';' },
      );
    }
  }
  return edits;
}

function wrapAsync(code: string, body: Node[]): PreparedCell {
  const names = new Set<string>();
  const functions: string[] = [];
  const edits: Edit[] = [];
  body.forEach((statement, index) => {
    if (statement.type === 'VariableDeclaration') {
      const kind = statement.kind as string;
      const declarations = statement.declarations as Node[];
      for (const declaration of declarations) collectNames(declaration.id as Node, names);
      // `let a, {b} = c;` -> `void (a = undefined, {b} = c);` (a `{` after `(` is a pattern, not a block).
      edits.push({ at: statement.start, end: statement.start + kind.length, text: 'void (' });
      for (const declaration of declarations) {
        if (declaration.init === null && kind !== 'var') {
          const id = declaration.id as Node;
          edits.push({ at: id.end, end: id.end, text: ' = undefined' });
        }
      }
      const last = declarations[declarations.length - 1]!;
      edits.push({ at: last.end, end: last.end, text: ')' });
    } else if (statement.type === 'FunctionDeclaration') {
      const name = (statement.id as Node & { name: string }).name;
      names.add(name);
      functions.push(name);
    } else if (statement.type === 'ClassDeclaration') {
      const name = (statement.id as Node & { name: string }).name;
      names.add(name);
      edits.push(
        { at: statement.start, end: statement.start, text: `${name} = ` },
        { at: statement.end, end: statement.end, text: ';' },
      );
    } else if (statement.type === 'ExpressionStatement' && index === body.length - 1) {
      const expression = statement.expression as Node;
      edits.push(
        { at: expression.start, end: expression.start, text: 'return (' },
        { at: expression.end, end: expression.end, text: ')' },
      );
    }
  });
  const hoisted = names.size > 0 ? `var ${[...names].join(', ')}; ` : '';
  // Function declarations stay in place (hoisted inside the wrapper) and are copied to the global object first.
  const copies = functions.map((name) => `${GLOBAL_PARAMETER}.${name} = ${name}; `).join('');
  const source = `${hoisted}(async function (${GLOBAL_PARAMETER}) { ${copies}${applyEdits(code, edits)}\n})`;
  return { source, wrapped: true };
}

function collectNames(pattern: Node, names: Set<string>): void {
  switch (pattern.type) {
    case 'Identifier':
      names.add(pattern.name as string);
      break;
    case 'ObjectPattern':
      for (const property of pattern.properties as Node[])
        collectNames(property.type === 'RestElement' ? (property.argument as Node) : (property.value as Node), names);
      break;
    case 'ArrayPattern':
      for (const element of pattern.elements as (Node | null)[]) if (element) collectNames(element, names);
      break;
    case 'AssignmentPattern':
      collectNames(pattern.left as Node, names);
      break;
    case 'RestElement':
      collectNames(pattern.argument as Node, names);
      break;
  }
}

const FUNCTION_TYPES = new Set(['FunctionDeclaration', 'FunctionExpression', 'ArrowFunctionExpression']);

/** True when an `await` (or `for await`) occurs outside every function of the program. */
function hasTopLevelAwait(node: Node): boolean {
  if (node.type === 'AwaitExpression' || (node.type === 'ForOfStatement' && node.await === true)) return true;
  if (FUNCTION_TYPES.has(node.type)) return false;
  for (const key of Object.keys(node)) {
    const child = node[key];
    if (Array.isArray(child)) {
      for (const item of child) if (isNode(item) && hasTopLevelAwait(item)) return true;
    } else if (isNode(child) && hasTopLevelAwait(child)) {
      return true;
    }
  }
  return false;
}

function isNode(value: unknown): value is Node {
  return typeof value === 'object' && value !== null && typeof (value as Node).type === 'string';
}

function applyEdits(code: string, edits: Edit[]): string {
  if (edits.length === 0) return code;
  const sorted = [...edits].sort((a, b) => a.at - b.at);
  let out = '';
  let position = 0;
  for (const edit of sorted) {
    out += code.slice(position, edit.at) + edit.text;
    position = edit.end;
  }
  return out + code.slice(position);
}
