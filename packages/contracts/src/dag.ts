import type { JsonValue } from "./common.js";
import type { TaskSpec } from "./tasks.js";
import type { Binding, NodeSpec, WorkflowSpec } from "./workflows.js";

/** The ids of the nodes a binding reads. */
export function bindingNodes(binding: Binding, into = new Set<string>()): Set<string> {
  switch (binding.kind) {
    case "node":
      into.add(binding.node);
      break;
    case "list":
      for (const item of binding.items) bindingNodes(item, into);
      break;
    case "object":
      for (const field of Object.values(binding.fields)) bindingNodes(field, into);
      break;
    default:
      break;
  }
  return into;
}

/** The nodes a node waits for. */
export function nodeUpstream(node: NodeSpec): Set<string> {
  const deps = new Set<string>();
  for (const b of Object.values(node.inputs)) bindingNodes(b, deps);
  if (node.kind === "map") for (const b of Object.values(node.over)) bindingNodes(b, deps);
  return deps;
}

export interface BindingScope {
  input(name: string): JsonValue | undefined;
  node(id: string): JsonValue | undefined;
}

export class BindingError extends Error {
  override name = "BindingError";
}

function followPath(
  value: JsonValue | undefined,
  path: readonly (string | number)[] | undefined,
  what: string,
): JsonValue {
  let current = value;
  for (const step of path ?? []) {
    if (typeof step === "number" && Array.isArray(current) && step < current.length)
      current = current[step];
    else if (
      typeof step === "string" &&
      current !== null &&
      typeof current === "object" &&
      !Array.isArray(current) &&
      step in current
    )
      current = current[step];
    else
      throw new BindingError(
        `${what} has no ${typeof step === "number" ? `element ${step}` : `field "${step}"`}`,
      );
  }
  if (current === undefined) throw new BindingError(`${what} has no value`);
  return current;
}

/** Turns a binding into a value once its inputs and upstream outputs are known. */
export function resolveBinding(binding: Binding, scope: BindingScope): JsonValue {
  switch (binding.kind) {
    case "literal":
      return binding.value;
    case "input":
      return followPath(
        scope.input(binding.name),
        binding.path,
        `workflow input "${binding.name}"`,
      );
    case "node":
      return followPath(scope.node(binding.node), binding.path, `the output of ${binding.node}`);
    case "list":
      return binding.items.map((item) => resolveBinding(item, scope));
    case "object":
      return Object.fromEntries(
        Object.entries(binding.fields).map(([k, b]) => [k, resolveBinding(b, scope)]),
      );
  }
}

/** Resolves a node's inputs; for a map node, one input object per element of its `over` lists. */
export function resolveNodeInputs(
  node: NodeSpec,
  scope: BindingScope,
): Record<string, JsonValue>[] {
  // An optional workflow input left unset, passed straight on, leaves the task's input unset too.
  const given = Object.entries(node.inputs).filter(
    ([, b]) => !(b.kind === "input" && !b.path?.length && scope.input(b.name) === undefined),
  );
  const fixed = Object.fromEntries(given.map(([k, b]) => [k, resolveBinding(b, scope)]));
  if (node.kind === "task") return [fixed];
  const lists = Object.entries(node.over).map(([name, b]) => {
    const value = resolveBinding(b, scope);
    if (!Array.isArray(value))
      throw new BindingError(`${node.id} maps over "${name}", which is not a list`);
    return [name, value] as const;
  });
  const length = lists[0]?.[1].length ?? 0;
  for (const [name, list] of lists) {
    if (list.length !== length)
      throw new BindingError(
        `${node.id} maps over lists of different lengths ("${name}" has ${list.length}, expected ${length})`,
      );
  }
  return Array.from({ length }, (_, i) => ({
    ...fixed,
    ...Object.fromEntries(lists.map(([name, list]) => [name, list[i] as JsonValue])),
  }));
}

function bindingInputs(binding: Binding, into: Set<string>): Set<string> {
  if (binding.kind === "input") into.add(binding.name);
  else if (binding.kind === "list") for (const item of binding.items) bindingInputs(item, into);
  else if (binding.kind === "object")
    for (const f of Object.values(binding.fields)) bindingInputs(f, into);
  return into;
}

/**
 * Checks a workflow against the tasks it names: unique node ids, known tasks and inputs, every required
 * task input bound, bindings that point at existing inputs and nodes, and no cycles.
 * Returns the problems found, each naming where it is; an empty list means the spec is sound.
 */
export function findWorkflowProblems(
  spec: WorkflowSpec,
  tasks: ReadonlyMap<string, TaskSpec>,
): string[] {
  const problems: string[] = [];
  const ids = new Set<string>();
  for (const node of spec.nodes) {
    if (ids.has(node.id)) problems.push(`node ${node.id} is defined twice`);
    ids.add(node.id);
  }
  const checkRefs = (b: Binding, where: string) => {
    for (const id of bindingNodes(b))
      if (!ids.has(id)) problems.push(`${where} reads node ${id}, which does not exist`);
    for (const name of bindingInputs(b, new Set())) {
      if (!(name in spec.inputs))
        problems.push(`${where} reads workflow input "${name}", which is not declared`);
    }
  };
  for (const node of spec.nodes) {
    const where = `node ${node.id} (${node.task})`;
    const task = tasks.get(node.task);
    if (!task) {
      problems.push(`${where} calls task "${node.task}", which is not registered with it`);
      continue;
    }
    const given = new Set([
      ...Object.keys(node.inputs),
      ...(node.kind === "map" ? Object.keys(node.over) : []),
    ]);
    for (const name of given)
      if (!(name in task.inputs))
        problems.push(`${where} sets input "${name}", which the task does not have`);
    for (const name of task.required)
      if (!given.has(name)) problems.push(`${where} does not set required input "${name}"`);
    if (node.kind === "map" && Object.keys(node.over).length === 0)
      problems.push(`${where} maps over no list`);
    for (const [name, b] of Object.entries(node.inputs)) checkRefs(b, `${where} input "${name}"`);
    if (node.kind === "map")
      for (const [name, b] of Object.entries(node.over)) checkRefs(b, `${where} input "${name}"`);
  }
  checkRefs(spec.output, "the workflow output");
  for (const name of spec.required)
    if (!(name in spec.inputs)) problems.push(`required input "${name}" is not declared`);
  if (problems.length === 0) {
    const cycle = findCycle(spec.nodes);
    if (cycle) problems.push(`the nodes form a cycle: ${cycle.join(" → ")}`);
  }
  return problems;
}

function findCycle(nodes: readonly NodeSpec[]): string[] | undefined {
  const byId = new Map(nodes.map((n) => [n.id, n]));
  const state = new Map<string, "visiting" | "done">();
  const stack: string[] = [];
  const visit = (id: string): string[] | undefined => {
    if (state.get(id) === "done") return undefined;
    if (state.get(id) === "visiting") return [...stack.slice(stack.indexOf(id)), id];
    state.set(id, "visiting");
    stack.push(id);
    const node = byId.get(id);
    for (const dep of node ? nodeUpstream(node) : []) {
      const cycle = visit(dep);
      if (cycle) return cycle;
    }
    stack.pop();
    state.set(id, "done");
    return undefined;
  };
  for (const node of nodes) {
    const cycle = visit(node.id);
    if (cycle) return cycle;
  }
  return undefined;
}
