import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';
import { defineConfig, type Plugin } from 'vite';
import react from '@vitejs/plugin-react';
import { PAGE_PATHS } from './src/app/paths.js';

/** `dist/routes.json`: the page addresses, for the gateway to answer unknown ones 404 (src/app/paths.ts). */
function routeManifest(): Plugin {
  return {
    name: 'imlab-route-manifest',
    apply: 'build',
    generateBundle() {
      this.emitFile({ type: 'asset', fileName: 'routes.json', source: `${JSON.stringify({ paths: PAGE_PATHS }, null, 2)}\n` });
    },
  };
}

/**
 * Writes `.br` and `.gz` next to every text asset, so the gateway (@fastify/static `preCompressed`)
 * sends compressed bytes without compressing on each request.
 */
function precompress(): Plugin {
  let outDir = 'dist';
  return {
    name: 'imlab-precompress',
    apply: 'build',
    configResolved(config) {
      outDir = path.resolve(config.root, config.build.outDir);
    },
    closeBundle() {
      const dir = path.join(outDir, 'assets');
      for (const name of readdirSync(dir)) {
        if (!/\.(js|css|json|svg)$/.test(name)) continue;
        const file = path.join(dir, name);
        if (statSync(file).size < 1024) continue;
        const bytes = readFileSync(file);
        writeFileSync(`${file}.gz`, gzipSync(bytes, { level: 9 }));
        writeFileSync(`${file}.br`, brotliCompressSync(bytes, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } }));
      }
    },
  };
}

// The running gateway that `pnpm --filter @imlab/web dev` proxies the API to (./scripts/start.sh).
const gateway = process.env.GATEWAY_URL ?? 'http://localhost:8080';

export default defineConfig({
  plugins: [react(), precompress(), routeManifest()],
  build: {
    target: 'es2022',
    // Every browser this supports has <link rel="modulepreload">: no polyfill in the entry chunk.
    modulePreload: { polyfill: false },
    // Nothing inlined as data: URLs; every asset is a hashed file under /assets/.
    assetsInlineLimit: 0,
  },
  server: {
    port: 5173,
    proxy: { '/v1': { target: gateway } },
  },
});
