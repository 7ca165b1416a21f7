/**
 * Building a workflow: the build context that task calls record nodes into, and `Ref`s, the placeholders
 * a workflow function handles instead of values (workflow inputs and task outputs).
 */
import type { Binding, JsonValue, NodeSpec } from "@drydock/contracts";

import type { TaskEntity } from "./entity.js";
import { toJsonValue } from "./inputs.js";

declare const refValue: unique symbol;

/**
 * A placeholder for a value that exists only when the workflow runs: a workflow input or a task output.
 * Pass it to tasks; `ref.field` and `ref[0]` are Refs to parts of it.
 */
export type Ref<T> = { readonly [refValue]: T } & RefParts<T>;

/** 0 … N-1 as a union. */
type Indexes<N extends number, Acc extends number[] = []> = Acc["length"] extends N
  ? Acc[number]
  : Indexes<N, [...Acc, Acc["length"]]>;

// Literal indexes are spelled out so `ref[0]` is a Ref even under noUncheckedIndexedAccess (a Ref's
// element always exists as a placeholder; whether the list is long enough is known only at run time).
type RefParts<T> = T extends readonly (infer E)[]
  ? { readonly [I in Indexes<32>]: Ref<E> } & { readonly [index: number]: Ref<E> }
  : T extends object
    ? { readonly [K in keyof T]-?: Ref<T[K]> }
    : unknown;

/** What a task accepts for an input of type T in a workflow: a value, a Ref, or arrays/objects holding Refs. */
export type Bindable<T> =
  | T
  | Ref<T>
  | (T extends readonly (infer E)[]
      ? readonly Bindable<E>[]
      : T extends object
        ? { [K in keyof T]: Bindable<T[K]> }
        : never);

/** The value a Ref, or an array/object holding Refs, stands for. */
export type Unref<R> = R extends { readonly [refValue]: infer T }
  ? T
  : R extends readonly unknown[]
    ? { -readonly [K in keyof R]: Unref<R[K]> }
    : R extends object
      ? { -readonly [K in keyof R]: Unref<R[K]> }
      : R;

/** The nodes and tasks recorded while one workflow function runs. */
export class BuildContext {
  readonly nodes: NodeSpec[] = [];
  readonly tasks = new Map<string, TaskEntity>();

  constructor(readonly workflowName: string) {}

  /** Ids in call order: n0, n1, … */
  nextNodeId(): string {
    return `n${this.nodes.length}`;
  }

  useTask(entity: TaskEntity): void {
    const known = this.tasks.get(entity.spec.name);
    if (known && known !== entity) {
      throw new Error(
        `workflow "${this.workflowName}" calls two different tasks named "${entity.spec.name}"; task names must be unique`,
      );
    }
    this.tasks.set(entity.spec.name, entity);
  }
}

let active: BuildContext | undefined;

/** The workflow being built right now, if any. */
export function activeBuild(): BuildContext | undefined {
  return active;
}

/** Runs `fn` with `context` as the active build. Builds do not nest. */
export function runInBuild<T>(context: BuildContext, fn: () => T): T {
  if (active) {
    throw new Error(
      `cannot build workflow "${context.workflowName}" while building workflow "${active.workflowName}": ` +
        "a workflow function cannot build or run another workflow (sub-workflows are not supported)",
    );
  }
  active = context;
  try {
    return fn();
  } finally {
    active = undefined;
  }
}

type RefBinding = Extract<Binding, { kind: "input" | "node" }>;

interface RefState {
  context: BuildContext;
  binding: RefBinding;
}

const refStates = new WeakMap<object, RefState>();
const inspectCustom = Symbol.for("nodejs.util.inspect.custom");

function describeRef(binding: RefBinding): string {
  const head = binding.kind === "input" ? `inputs.${binding.name}` : `${binding.node}.output`;
  return (
    head +
    (binding.path ?? [])
      .map((step) => (typeof step === "number" ? `[${step}]` : `.${step}`))
      .join("")
  );
}

function misuse(binding: RefBinding, what: string): Error {
  return new Error(
    `${describeRef(binding)} is a Ref, a placeholder for a value that exists only when the workflow runs; ` +
      `it cannot be ${what} inside a workflow function. Pass it to a task and compute there.`,
  );
}

/** A Ref to a workflow input or a node output (or a part of one, when the binding has a path). */
export function makeRef(context: BuildContext, binding: RefBinding): Ref<unknown> {
  const proxy = new Proxy(Object.create(null) as object, {
    get(_target, prop) {
      if (typeof prop === "symbol") {
        if (prop === Symbol.toPrimitive)
          return () => {
            throw misuse(binding, "turned into a string or number");
          };
        if (prop === Symbol.iterator)
          return () => {
            throw misuse(binding, "iterated or spread");
          };
        if (prop === inspectCustom) return () => `Ref(${describeRef(binding)})`;
        return undefined;
      }
      // Not a thenable: `await ref` gives the Ref back instead of hanging.
      if (prop === "then") return undefined;
      if (prop === "toJSON")
        return () => {
          throw misuse(binding, "serialised");
        };
      const step = /^(0|[1-9][0-9]*)$/.test(prop) ? Number(prop) : prop;
      return makeRef(context, { ...binding, path: [...(binding.path ?? []), step] });
    },
    set() {
      throw new Error(`${describeRef(binding)} is a Ref and cannot be assigned to`);
    },
    defineProperty() {
      throw new Error(`${describeRef(binding)} is a Ref and cannot be assigned to`);
    },
    deleteProperty() {
      throw new Error(`${describeRef(binding)} is a Ref and cannot be changed`);
    },
  });
  refStates.set(proxy, { context, binding });
  return proxy as Ref<unknown>;
}

/** True for Refs made by this SDK. */
export function isRef(value: unknown): boolean {
  return typeof value === "object" && value !== null && refStates.has(value);
}

function isPlainObject(value: object): boolean {
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === null;
}

function kindOf(value: unknown): string {
  if (typeof value !== "object" || value === null) return typeof value;
  return (value as { constructor?: { name?: string } }).constructor?.name ?? "object";
}

/**
 * The binding for a value given in a workflow function: a Ref becomes an input/node binding, arrays and
 * plain objects holding Refs become list/object bindings, anything else a literal. `undefined` at the top
 * yields undefined (the input is left out), inside arrays null and inside objects an absent field, as in JSON.
 * `where` names the value in errors: `input "name" of task "say_hello"`.
 */
export function toBinding(
  context: BuildContext,
  value: unknown,
  where: string,
): Binding | undefined {
  const seen = new Set<object>();
  const bind = (v: unknown, at: string): Binding | undefined => {
    if (v === undefined) return undefined;
    if (v === null || typeof v === "string" || typeof v === "boolean")
      return { kind: "literal", value: v };
    if (typeof v === "number") {
      if (!Number.isFinite(v)) throw new Error(`${at} is ${v}, which is not a JSON number`);
      return { kind: "literal", value: v };
    }
    if (typeof v !== "object") {
      throw new Error(
        `${at} is a ${typeof v}; pass JSON values (strings, numbers, booleans, null, arrays, plain objects) or Refs`,
      );
    }
    const state = refStates.get(v);
    if (state) {
      if (state.context !== context) {
        throw new Error(
          `${at} is a Ref from workflow "${state.context.workflowName}"${state.context === active ? "" : " (whose build has ended)"}; ` +
            `Refs can only be used inside the workflow function that received or produced them`,
        );
      }
      return structuredClone(state.binding);
    }
    if (seen.has(v)) throw new Error(`${at} contains a cycle`);
    seen.add(v);
    try {
      if (Array.isArray(v)) {
        const items = v.map(
          (item, i) => bind(item, `${at}[${i}]`) ?? { kind: "literal" as const, value: null },
        );
        return collapse({ kind: "list", items });
      }
      if (typeof (v as { toJSON?: unknown }).toJSON === "function")
        return { kind: "literal", value: toJsonValue(v) };
      if (!isPlainObject(v)) {
        throw new Error(
          `${at} is a ${kindOf(v)}; pass JSON values (strings, numbers, booleans, null, arrays, plain objects) or Refs`,
        );
      }
      const fields: Record<string, Binding> = {};
      for (const [key, field] of Object.entries(v)) {
        const b = bind(field, `${at}.${key}`);
        if (b) fields[key] = b;
      }
      return collapse({ kind: "object", fields });
    } finally {
      seen.delete(v);
    }
  };
  return bind(value, where);
}

/** A list/object binding made only of literals is itself a literal. */
function collapse(binding: Extract<Binding, { kind: "list" | "object" }>): Binding {
  if (binding.kind === "list") {
    const values: JsonValue[] = [];
    for (const item of binding.items) {
      if (item.kind !== "literal") return binding;
      values.push(item.value);
    }
    return { kind: "literal", value: values };
  }
  const value: Record<string, JsonValue> = {};
  for (const [key, field] of Object.entries(binding.fields)) {
    if (field.kind !== "literal") return binding;
    value[key] = field.value;
  }
  return { kind: "literal", value };
}
