/** HTTP access to the blobs behind the server's signed URLs: the code bundle, the inputs, the output. */
import type { AgentConfig } from "../env.js";
import { fetchOrUnavailable } from "../client.js";

export class BlobHttp {
  private readonly endpoint: URL;

  constructor(private readonly config: AgentConfig) {
    this.endpoint = new URL(`${config.endpoint}/`);
  }

  /** Signed URLs may be absolute or relative to the endpoint. */
  resolve(url: string): string {
    return new URL(url, this.endpoint).href;
  }

  async getBytes(url: string): Promise<Buffer> {
    const response = await fetchOrUnavailable(url, { headers: this.headers(url) });
    if (response.status !== 200) throw await httpError("GET", url, response);
    return Buffer.from(await response.arrayBuffer());
  }

  async getJsonObject(url: string): Promise<Record<string, unknown>> {
    const bytes = await this.getBytes(url);
    const value: unknown = JSON.parse(bytes.toString("utf8"));
    if (typeof value !== "object" || value === null || Array.isArray(value)) {
      throw new Error(`GET ${url} did not return a JSON object`);
    }
    return value as Record<string, unknown>;
  }

  async putJson(url: string, body: string): Promise<void> {
    const response = await fetchOrUnavailable(url, {
      method: "PUT",
      headers: { ...this.headers(url), "content-type": "application/json" },
      body,
    });
    if (response.status === 409) {
      await response.body?.cancel();
      throw new Error(
        "the server already holds a different output for this attempt (409 Conflict)",
      );
    }
    if (response.status !== 200 && response.status !== 201 && response.status !== 204)
      throw await httpError("PUT", url, response);
    await response.body?.cancel();
  }

  /** The agent token goes only to the server itself, never to another host a signed URL may point at. */
  private headers(url: string): Record<string, string> {
    return new URL(url).origin === this.endpoint.origin
      ? { authorization: `Bearer ${this.config.token}` }
      : {};
  }
}

async function httpError(method: string, url: string, response: Response): Promise<Error> {
  const text = (await response.text().catch(() => "")).slice(0, 300);
  return new Error(
    `${method} ${new URL(url).pathname} answered ${response.status}${text ? `: ${text}` : ""}`,
  );
}
