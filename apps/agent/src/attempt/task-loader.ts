/**
 * Loads a bundle's entry module with tsx, once per process: a warm agent's next attempt of the same bundle
 * reuses the module already loaded (its module-level state included, as in a warm serverless container).
 */
import { pathToFileURL } from "node:url";

const importedEntries = new Map<string, Promise<Record<string, unknown>>>();

/** The entry's module namespace; a failed import is forgotten, so the next attempt tries again. */
export function importEntry(file: string): Promise<Record<string, unknown>> {
  let loaded = importedEntries.get(file);
  if (!loaded) {
    // tsx runs the sources as the author wrote them; no tsconfig, so the result does not depend on the cwd.
    loaded = import("tsx/esm/api").then(
      ({ tsImport }) =>
        tsImport(pathToFileURL(file).href, {
          parentURL: import.meta.url,
          tsconfig: false,
        }) as Promise<Record<string, unknown>>,
    );
    importedEntries.set(file, loaded);
    loaded.catch(() => importedEntries.delete(file));
  }
  return loaded;
}
