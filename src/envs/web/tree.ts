/**
 * Reading the observation's page tree back (for oracles and scripted agents): each `[id] role "name" ...`
 * line as a structured element, with the named container it sits in (a `group "Delivery"`, a `dialog`).
 */

export interface TreeElement {
  id: number;
  role: string;
  name: string;
  /** `value="..."` of text fields and dropdowns. */
  value?: string;
  checked?: boolean;
  selected?: boolean;
  disabled?: boolean;
  /** Options of a dropdown. */
  options?: string[];
  /** Names of the containers the element sits in, outermost first (e.g. `['group "Delivery"']`). */
  path: string[];
}

const ELEMENT = /^( *)\[(\d+)\] (\S+) "((?:[^"\\]|\\.)*)"(.*)$/;
const CONTAINER = /^( *)([a-z]+)(?: "((?:[^"\\]|\\.)*)")?$/;

function unquote(text: string): string {
  return text.replace(/\\(.)/g, '$1');
}

/** Every element line of an observation's tree. */
export function parseTree(text: string): TreeElement[] {
  const elements: TreeElement[] = [];
  const stack: { depth: number; label: string }[] = [];
  for (const line of text.split('\n')) {
    const element = ELEMENT.exec(line);
    const depth = (element?.[1] ?? CONTAINER.exec(line)?.[1] ?? '').length / 2;
    while (stack.length > 0 && stack[stack.length - 1]!.depth >= depth) stack.pop();
    if (element) {
      const rest = element[5]!;
      const value = /value="((?:[^"\\]|\\.)*)"/.exec(rest)?.[1];
      const options = /options=\[(.*)\]/.exec(rest)?.[1];
      elements.push({
        id: Number(element[2]),
        role: element[3]!,
        name: unquote(element[4]!),
        value: value === undefined ? undefined : unquote(value),
        checked: / checked\b/.test(rest) ? true : / unchecked\b/.test(rest) ? false : undefined,
        selected: / selected\b/.test(rest),
        disabled: / disabled\b/.test(rest),
        options:
          options === undefined ? undefined : [...options.matchAll(/"((?:[^"\\]|\\.)*)"/g)].map((m) => unquote(m[1]!)),
        path: stack.map((entry) => entry.label),
      });
      continue;
    }
    const container = CONTAINER.exec(line);
    if (container && container[2] !== 'text')
      stack.push({
        depth,
        label: container[3] === undefined ? container[2]! : `${container[2]} "${unquote(container[3])}"`,
      });
  }
  return elements;
}

/** The first element with this role and name (and, when given, inside a container with that label). */
export function findElement(
  elements: readonly TreeElement[],
  role: string | readonly string[],
  name: string,
  within?: string,
): TreeElement | undefined {
  const roles = typeof role === 'string' ? [role] : role;
  return elements.find(
    (e) => roles.includes(e.role) && e.name === name && (within === undefined || e.path.includes(within)),
  );
}

/** The `URL: ...` line of an observation. */
export function observedUrl(text: string): string {
  return /^URL: (.*)$/m.exec(text)?.[1] ?? '';
}
