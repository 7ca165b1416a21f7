/**
 * `vite build` writes the console to dist/, which the server serves at `/`. `vite dev` (pnpm dev) serves it
 * with hot reload and proxies the API, the sign-in routes and the tRPC WebSocket to a running server:
 * DRYDOCK_ENDPOINT, default http://127.0.0.1:8484 (what `drydock up` listens on).
 */
import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

const endpoint = process.env.DRYDOCK_ENDPOINT ?? "http://127.0.0.1:8484";

export default defineConfig({
  plugins: [react()],
  build: { outDir: "dist", emptyOutDir: true, sourcemap: true, chunkSizeWarningLimit: 900 },
  server: {
    proxy: {
      "/trpc": { target: endpoint, ws: true, changeOrigin: false },
      "/auth": { target: endpoint },
    },
  },
});
