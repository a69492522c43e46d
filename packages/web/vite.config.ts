import { defineConfig } from 'vite';

// Relative asset paths so the bundle works wherever the server mounts it; the workspace client is
// compiled from its TypeScript sources (the "source" export condition), so no prior tsc build is needed.
export default defineConfig({
  base: './',
  resolve: { conditions: ['source', 'module', 'browser', 'import', 'default'] },
  build: { outDir: 'dist', emptyOutDir: true, target: 'es2022', sourcemap: false, reportCompressedSize: true },
});
