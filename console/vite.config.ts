import { fileURLToPath } from 'node:url';
import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

/**
 * The web console's build. What it emits must pass the Content-Security-Policy the server sends
 * (src/http/console.ts): no inline script (the module-preload polyfill would be one), no
 * inline style, nothing inlined as a data: URL except images.
 */
export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  plugins: [react()],
  build: {
    outDir: '../dist/console',
    emptyOutDir: true,
    modulePreload: { polyfill: false },
    assetsInlineLimit: 0,
    sourcemap: false,
  },
  server: {
    // `npx vite --config console/vite.config.ts` while `npm start` serves the API.
    proxy: { '/v1': { target: 'http://127.0.0.1:7200', ws: true } },
  },
});
