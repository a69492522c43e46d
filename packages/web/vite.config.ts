import { defineConfig } from 'vite';

// The page talks to the server that served it. Under `vite` (dev) the API routes are proxied to a
// running `tuneserve serve` (TUNESERVE_URL, default http://127.0.0.1:8080).
const target = process.env.TUNESERVE_URL ?? 'http://127.0.0.1:8080';

// Relative asset paths so the bundle works wherever the server mounts it; the workspace client is
// compiled from its TypeScript sources (the "source" export condition), so no prior tsc build is needed.
export default defineConfig({
  base: './',
  resolve: { conditions: ['source', 'module', 'browser', 'import', 'default'] },
  server: { proxy: { '/api': target, '/v1': target, '/predict': target } },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    sourcemap: false,
    reportCompressedSize: true,
    // ECharts (the dashboard's parallel coordinates, loaded on first use) is one ~510 kB chunk.
    chunkSizeWarningLimit: 600,
  },
});
