import type { FastifyPluginCallback } from "fastify";
import type { Readable } from "node:stream";

import { BlobConflictError, BlobTooLargeError, LocalBlobStore } from "./blob-store.js";
import type { BlobUrlSigner } from "./signing.js";

export interface BlobRoutesOptions {
  store: LocalBlobStore;
  signer: BlobUrlSigner;
  maxBytes: number;
  /** Told of every blob written through a signed URL (e.g. to record an uploaded bundle). */
  onWritten?: (key: string, sha256: string, size: number) => Promise<void>;
}

/** GET and PUT of blobs through signed URLs; bodies stream straight to and from disk. */
export const blobRoutes: FastifyPluginCallback<BlobRoutesOptions> = (app, opts, registered) => {
  app.removeAllContentTypeParsers();
  app.addContentTypeParser("*", (_request, payload, done) => done(null, payload));

  app.get<{ Params: { "*": string }; Querystring: Record<string, string> }>(
    "/blobs/*",
    async (request, reply) => {
      const key = request.params["*"];
      if (!LocalBlobStore.isValidKey(key))
        return reply.code(400).send({ error: "invalid blob key" });
      const denied = opts.signer.check("get", key, request.query);
      if (denied) return reply.code(403).send({ error: denied });
      const size = await opts.store.size(key);
      if (size === undefined) return reply.code(404).send({ error: `no blob "${key}"` });
      return reply
        .header("content-length", size)
        .type("application/octet-stream")
        .send(opts.store.read(key));
    },
  );

  app.put<{ Params: { "*": string }; Querystring: Record<string, string> }>(
    "/blobs/*",
    async (request, reply) => {
      const key = request.params["*"];
      if (!LocalBlobStore.isValidKey(key))
        return reply.code(400).send({ error: "invalid blob key" });
      const denied = opts.signer.check("put", key, request.query);
      if (denied) return reply.code(403).send({ error: denied });
      const declared = Number(request.headers["content-length"] ?? 0);
      if (declared > opts.maxBytes)
        return reply.code(413).send({ error: `blob is larger than ${opts.maxBytes} bytes` });
      try {
        const { sha256, created } = await opts.store.write(
          key,
          request.body as Readable,
          opts.maxBytes,
        );
        const size = (await opts.store.size(key)) ?? 0;
        await opts.onWritten?.(key, sha256, size);
        return reply.code(created ? 201 : 200).send({ sha256, size });
      } catch (error) {
        if (error instanceof BlobTooLargeError)
          return reply.code(413).send({ error: error.message });
        if (error instanceof BlobConflictError)
          return reply.code(409).send({ error: error.message });
        throw error;
      }
    },
  );
  registered();
};
