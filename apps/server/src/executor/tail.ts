import { open } from "node:fs/promises";

/** The last `bytes` of a log file, as text; empty when there is none. */
export async function tailFile(path: string, bytes = 2_048): Promise<string> {
  const file = await open(path, "r").catch(() => undefined);
  if (!file) return "";
  try {
    const { size } = await file.stat();
    const length = Math.min(size, bytes);
    const buffer = Buffer.alloc(length);
    await file.read(buffer, 0, length, size - length);
    return buffer.toString("utf8");
  } finally {
    await file.close();
  }
}
