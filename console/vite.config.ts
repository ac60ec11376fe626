// Builds the console into dist/console (served by the server at /), with a .gz sibling for every
// asset so the server can send it precompressed. `npm run dev:console` proxies the API to :8080.
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync, constants } from 'node:zlib';
import { defineConfig, type Plugin } from 'vite';
import react from '@vitejs/plugin-react';

const root = fileURLToPath(new URL('.', import.meta.url));
const outDir = join(root, '../dist/console');

function gzipAssets(): Plugin {
  return {
    name: 'cex-gzip-assets',
    apply: 'build',
    async writeBundle(options, bundle) {
      const dir = options.dir ?? outDir;
      for (const file of Object.keys(bundle)) {
        if (!/\.(js|css|html|svg|json)$/.test(file)) continue;
        const data = await fs.readFile(join(dir, file));
        await fs.writeFile(join(dir, `${file}.gz`), gzipSync(data, { level: constants.Z_BEST_COMPRESSION }));
      }
    },
  };
}

export default defineConfig({
  root,
  base: '/',
  plugins: [react(), gzipAssets()],
  build: { outDir, emptyOutDir: true, target: 'es2022', chunkSizeWarningLimit: 800 },
  server: {
    proxy: {
      '/graphql': { target: 'http://127.0.0.1:8080', ws: true },
      '/kp1': 'http://127.0.0.1:8080',
    },
  },
});
