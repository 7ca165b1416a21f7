/**
 * The frames of a V8 stack trace that lie in the workspace, so the first-run error can jump to the code
 * that failed. Pure: paths in, workspace-relative paths and positions out.
 */
import { isAbsolute, posix, relative, sep } from "node:path";
import { fileURLToPath } from "node:url";

export interface StackFrame {
  /** The function as V8 names it (`async run`, `Object.<anonymous>`), if any. */
  fn?: string;
  /** The file as the stack names it: an absolute path (file:// URLs decoded). */
  file: string;
  /** 1-based, as V8 prints them. */
  line: number;
  column: number;
}

export interface WorkspaceFrame extends StackFrame {
  /** The file relative to the workspace root, with `/` separators. */
  path: string;
}

// `at fn (location)` — the function part may hold spaces and brackets (`async Promise.all (index 0)` aside).
const WITH_FUNCTION = /^\s*at (.+?) \((.+)\)$/;
const BARE = /^\s*at (.+)$/;
const LOCATION = /^(.+):(\d+):(\d+)$/;

/** Every frame of `stack` that names a file, line and column (node: internals and native frames aside). */
export function parseStackFrames(stack: string): StackFrame[] {
  const frames: StackFrame[] = [];
  for (const text of stack.split(/\r?\n/)) {
    const withFunction = WITH_FUNCTION.exec(text);
    const bare = withFunction ? undefined : BARE.exec(text);
    const fn = withFunction?.[1];
    let location = withFunction?.[2] ?? bare?.[1];
    if (!location) continue;
    // `eval at fn (file:1:2), <anonymous>:3:4` points into eval'd code; the outer location is the file's.
    const evalAt = /\((.+?:\d+:\d+)\)/.exec(location);
    if (location.startsWith("eval at ") && evalAt?.[1]) location = evalAt[1];
    const match = LOCATION.exec(location);
    if (!match?.[1]) continue;
    const file = toPath(match[1]);
    if (!file) continue;
    frames.push({ ...(fn ? { fn } : {}), file, line: Number(match[2]), column: Number(match[3]) });
  }
  return frames;
}

export interface WorkspaceFrameOptions {
  workspaceRoot: string;
  /**
   * The workspace file holding the task (the context's `entry`). A first run may have run from another copy
   * of the same sources (the agent's extracted bundle): a frame in `<dir>/<entry>` says `<dir>` is such a
   * copy, and its frames map onto the workspace too.
   */
  entry?: string;
}

/** The frames of `stack` in the workspace's own sources (not node_modules), top frame first. */
export function workspaceFrames(stack: string, options: WorkspaceFrameOptions): WorkspaceFrame[] {
  const frames = parseStackFrames(stack);
  const roots = [options.workspaceRoot];
  if (options.entry) {
    const suffix = `/${options.entry.split(sep).join("/").replace(/^\.\//, "")}`;
    for (const frame of frames) {
      const file = frame.file.split(sep).join("/");
      if (file.endsWith(suffix)) roots.push(file.slice(0, -suffix.length));
    }
  }
  const found: WorkspaceFrame[] = [];
  for (const frame of frames) {
    for (const root of roots) {
      const path = insideRoot(root, frame.file);
      if (path) {
        found.push({ ...frame, path });
        break;
      }
    }
  }
  return found;
}

function insideRoot(root: string, file: string): string | undefined {
  const rel = relative(root, file);
  if (!rel || rel.startsWith("..") || isAbsolute(rel)) return undefined;
  const path = rel.split(sep).join(posix.sep);
  return path.split("/").includes("node_modules") ? undefined : path;
}

/** An absolute file path from a stack location, or undefined for node:, native and anonymous locations. */
function toPath(location: string): string | undefined {
  if (location.startsWith("file://")) {
    try {
      return fileURLToPath(location);
    } catch {
      return undefined;
    }
  }
  return isAbsolute(location) ? location : undefined;
}
