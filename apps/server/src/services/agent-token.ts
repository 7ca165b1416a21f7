/** Agent tokens are stored only as their SHA-256: a leaked database row cannot act as an agent. */
import { createHash } from "node:crypto";

export const hashToken = (token: string) => createHash("sha256").update(token).digest("hex");
