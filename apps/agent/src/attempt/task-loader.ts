/**
 * Loads a bundle's entry module once per process: a warm agent's next attempt of the same bundle reuses the
 * module already loaded (its module-level state included, as in a warm serverless container). The sources go
 * through tsx; the entry the bundle ships compiled (`manifest.compiled`, plain JavaScript) is imported as is.
 */
import { pathToFileURL } from "node:url";

const importedEntries = new Map<string, Promise<Record<string, unknown>>>();

/**
 * The module namespace of `file`: TypeScript sources with tsx, or a compiled entry (`compiled`) with Node's own
 * `import()`, which starts no loader thread and compiles nothing. A failed import is forgotten, so the next
 * attempt tries again.
 */
export function importEntry(
  file: string,
  { compiled = false }: { compiled?: boolean } = {},
): Promise<Record<string, unknown>> {
  let loaded = importedEntries.get(file);
  if (!loaded) {
    const url = pathToFileURL(file).href;
    loaded = compiled
      ? (import(url) as Promise<Record<string, unknown>>)
      : // tsx runs the sources as the author wrote them; no tsconfig, so the result does not depend on the cwd.
        import("tsx/esm/api").then(
          ({ tsImport }) =>
            tsImport(url, { parentURL: import.meta.url, tsconfig: false }) as Promise<
              Record<string, unknown>
            >,
        );
    importedEntries.set(file, loaded);
    loaded.catch(() => importedEntries.delete(file));
  }
  return loaded;
}
