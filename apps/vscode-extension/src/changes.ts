/**
 * What Show Changes opens for the agent's `changes`: which diffs, between which documents, under which
 * titles. Documents are described as URI parts (scheme, path, query) so this stays free of `vscode`.
 */
import type { IdeChanges } from "@drydock/contracts/ide";

/** The scheme of the read-only documents holding the registered text of a file. */
export const ORIGINAL_SCHEME = "drydock-original";

export interface UriParts {
  scheme: string;
  path: string;
  query: string;
}

export interface ChangeEntry {
  /** Workspace-relative, `/`-separated. */
  path: string;
  status: IdeChanges["files"][number]["status"];
  /** The left side: the registered text (empty for an added file). */
  original: UriParts;
  /** What the left side's document holds. */
  originalText: string;
  /** The right side: the workspace file, or for a deleted file an empty read-only document. */
  edited: UriParts;
  /** The diff editor's title. */
  title: string;
}

export type ShowChangesPlan =
  | { kind: "none"; message: string }
  | { kind: "single"; entry: ChangeEntry }
  | { kind: "pick"; entries: ChangeEntry[]; patch: string };

export const NO_CHANGES_MESSAGE = "No changes against the registered sources";
/** The quick pick's entry that opens the whole patch instead of one file. */
export const ALL_CHANGES_LABEL = "All changes (patch)";

/**
 * Plans Show Changes. `generation` goes into the virtual documents' URIs: VS Code caches a document by its
 * URI, and a later Show Changes (after `drydock-original` texts changed) must not show the old text.
 */
export function planShowChanges(
  changes: IdeChanges,
  workspaceRoot: string,
  generation: number,
): ShowChangesPlan {
  const entries = changes.files.map((file) => changeEntry(file, workspaceRoot, generation));
  const [only] = entries;
  if (!only) return { kind: "none", message: NO_CHANGES_MESSAGE };
  if (entries.length === 1) return { kind: "single", entry: only };
  return { kind: "pick", entries, patch: changes.patch };
}

export function changeEntry(
  file: IdeChanges["files"][number],
  workspaceRoot: string,
  generation: number,
): ChangeEntry {
  const path = file.path.replace(/^\/+/, "");
  const original: UriParts = {
    scheme: ORIGINAL_SCHEME,
    path: `/${path}`,
    query: `v=${generation}`,
  };
  const edited: UriParts =
    file.status === "deleted"
      ? { scheme: ORIGINAL_SCHEME, path: `/${path}`, query: `v=${generation}&deleted` }
      : { scheme: "file", path: `${workspaceRoot.replace(/\/+$/, "")}/${path}`, query: "" };
  return {
    path,
    status: file.status,
    original,
    originalText: file.original ?? "",
    edited,
    title:
      file.status === "deleted"
        ? `${path} (registered ↔ deleted)`
        : `${path} (registered ↔ edited)`,
  };
}

/** The key under which the `drydock-original` content provider finds a document's text. */
export function documentKey(uri: Pick<UriParts, "path" | "query">): string {
  return `${uri.path}?${uri.query}`;
}

/** The texts of the `drydock-original` documents `entries` refer to: each registered text, and "" for the right side of a deletion. */
export function originalDocuments(entries: readonly ChangeEntry[]): Map<string, string> {
  const documents = new Map<string, string>();
  for (const entry of entries) {
    documents.set(documentKey(entry.original), entry.originalText);
    if (entry.edited.scheme === ORIGINAL_SCHEME) documents.set(documentKey(entry.edited), "");
  }
  return documents;
}

/** The quick pick's label and description for one file. */
export function pickLabel(entry: ChangeEntry): { label: string; description: string } {
  return { label: entry.path, description: entry.status };
}
