import { defineConfig } from 'vite';

// Plain JS + uPlot; no plugins, so the build runs on Node 18 (Debian 12) as well.
// The dev server proxies the API to a running dashdot (DASHDOT_URL, default localhost:9100).
export default defineConfig({
  base: '/',
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2020',
    sourcemap: false,
    chunkSizeWarningLimit: 600,
  },
  server: {
    proxy: {
      '/api': { target: process.env.DASHDOT_URL || 'http://127.0.0.1:9100', changeOrigin: true },
    },
  },
});
