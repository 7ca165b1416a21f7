/** `vscode(...)`: mark a task function as interactive, so the platform runs it inside a VS Code session. */
import type { InteractiveConfig } from "@drydock/contracts";
import { InteractiveConfigSchema } from "@drydock/contracts";

/** The GitHub Copilot extension on Open VSX, for `new VscodeConfig().addExtensions(COPILOT_EXTENSION)`. */
export const COPILOT_EXTENSION =
  "https://open-vsx.org/api/GitHub/copilot/1.138.563/file/GitHub.copilot-1.138.563.vsix";
/** The Vim extension on Open VSX. */
export const VIM_EXTENSION =
  "https://open-vsx.org/api/vscodevim/vim/1.27.0/file/vscodevim.vim-1.27.0.vsix";

/**
 * The VS Code extensions installed into a task's session (URLs of .vsix files or paths inside the image).
 * Each instance owns its list: there is no shared default for `addExtensions` to mutate (FlyteInteractive's
 * `VscodeConfig` mutated a module-level default list, so every task saw every other task's extensions).
 * @example new VscodeConfig().addExtensions([COPILOT_EXTENSION, VIM_EXTENSION])
 */
export class VscodeConfig {
  readonly extensions: string[];

  constructor(options: { extensions?: readonly string[] } = {}) {
    this.extensions = [];
    this.addExtensions([...(options.extensions ?? [])]);
  }

  /** Adds one extension or several (duplicates are ignored); returns this config for chaining. */
  addExtensions(urlOrPath: string | readonly string[]): this {
    for (const extension of typeof urlOrPath === "string" ? [urlOrPath] : urlOrPath) {
      if (typeof extension !== "string" || extension.trim() === "") {
        throw new Error(
          `VscodeConfig.addExtensions expects URLs or paths of .vsix files, got ${JSON.stringify(extension)}`,
        );
      }
      if (!this.extensions.includes(extension)) this.extensions.push(extension);
    }
    return this;
  }
}

/** Options of `vscode(options, fn)`; every one has a default. */
export interface VscodeOptions {
  /** Seconds without IDE activity before the session ends (and the task fails). Default 36 000 (10 h). */
  maxIdleSeconds?: number;
  /**
   * Seconds a session nobody has opened stays up before it ends (and the task fails). Default a quarter of
   * maxIdleSeconds, at least 60 and at most maxIdleSeconds.
   */
  maxUnopenedSeconds?: number;
  /**
   * `"pause"`: post-mortem debugging. The task runs at once, with no IDE, in a process of its own under the
   * Node inspector; when its function throws or rejects, that process stays paused at the throw, with its
   * stack and locals, and the IDE opens attached to it. Succeeding, it costs nothing measurable.
   * Not with runTaskFirst (which re-runs the task in the IDE instead).
   */
  onFailure?: "pause";
  /** Run the task function first and open the IDE only if it fails. Default false. */
  runTaskFirst?: boolean;
  /** Runs in the task's process before the IDE starts. */
  preExecute?: () => unknown;
  /** Runs in the task's process after the session ends. */
  postExecute?: () => unknown;
  /** Extensions to install into the session. */
  config?: VscodeConfig;
  /** Set false to run the task normally without a session. Default true. */
  enable?: boolean;
  /**
   * Also serve the IDE on this loopback port of the task's machine (for a user there, or an SSH tunnel), behind
   * the same checks as the relay: Host and Origin, and a sign-in link shown in the task's log. Absent, the IDE
   * is reachable only through the relay.
   */
  port?: number;
}

/** What `vscode(...)` recorded about a task function. */
export interface InteractiveDefinition {
  options: VscodeOptions;
  /** The task function as the author wrote it. */
  fn: (...args: never[]) => unknown;
}

const definitions = new WeakMap<object, InteractiveDefinition>();

/** The interactive definition of a function wrapped by `vscode(...)`, if it is one. */
export function interactiveDefinitionOf(fn: unknown): InteractiveDefinition | undefined {
  return typeof fn === "function" ? definitions.get(fn) : undefined;
}

/** The `interactive` part of a task spec for these options, with the defaults filled in. */
export function interactiveConfigOf(options: VscodeOptions): InteractiveConfig {
  const parsed = InteractiveConfigSchema.safeParse({
    enable: options.enable,
    maxIdleSeconds: options.maxIdleSeconds,
    runTaskFirst: options.runTaskFirst,
    preExecute: options.preExecute !== undefined,
    port: options.port,
    extensions: options.config ? [...options.config.extensions] : [],
    onFailure: options.onFailure,
    maxUnopenedSeconds: options.maxUnopenedSeconds,
  });
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ");
    throw new Error(`invalid vscode options: ${problems}`);
  }
  if (parsed.data.onFailure === "pause" && parsed.data.runTaskFirst)
    throw new Error(
      'invalid vscode options: onFailure "pause" and runTaskFirst cannot be combined: the first pauses the failing run where it threw, the second runs the task again in the IDE',
    );
  const { port, onFailure, maxUnopenedSeconds, ...config } = parsed.data;
  return {
    ...config,
    ...(port === undefined ? {} : { port }),
    ...(onFailure === undefined ? {} : { onFailure }),
    ...(maxUnopenedSeconds === undefined ? {} : { maxUnopenedSeconds }),
  };
}

/**
 * Makes a task interactive: when the platform runs it, the task becomes a VS Code session with its real
 * inputs. Run locally (`task.run`, `runWorkflow`, `execute`) the wrapper is a pass-through: the function
 * simply runs and the hooks do not.
 * @example task({ name: "say_hello", inputs, output }, vscode({ maxIdleSeconds: 600 }, async ({ name }) => `Hello, ${name}!`))
 */
export function vscode<F extends (...args: never[]) => unknown>(fn: F): F;
export function vscode<F extends (...args: never[]) => unknown>(options: VscodeOptions, fn: F): F;
export function vscode<F extends (...args: never[]) => unknown>(
  optionsOrFn: VscodeOptions | F,
  maybeFn?: F,
): F {
  const [options, fn] =
    typeof optionsOrFn === "function" ? [{}, optionsOrFn] : [optionsOrFn, maybeFn];
  if (typeof fn !== "function")
    throw new TypeError("vscode(options, fn) needs the task function as its last argument");
  interactiveConfigOf(options); // fail at definition time on bad options
  const inner = interactiveDefinitionOf(fn)?.fn ?? fn;
  const wrapper = function (this: unknown, ...args: never[]) {
    return inner.apply(this, args);
  } as F;
  Object.defineProperty(wrapper, "name", { value: inner.name });
  definitions.set(wrapper, { options: { ...options }, fn: inner });
  return wrapper;
}
