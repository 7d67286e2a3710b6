// Runs the TypeScript sources with Node's own type stripping, without a loader: `node --import
// ./scripts/ts-resolve.mjs services/auth/src/main.ts`. The sources import each other by their
// compiled names (`./app.js`, as TypeScript's NodeNext resolution wants); this resolves such a
// relative `.js` that does not exist to the `.ts` beside it. Node strips the types itself (the
// code is erasable syntax only: tsconfig's `erasableSyntaxOnly`). A synchronous, in-thread hook:
// the process that runs is the one started (a SIGKILL reaches it), and it starts in a fraction of
// the time and CPU tsx's loader thread and transform took. V8's compile cache (on disk, under
// node_modules/.cache, unless NODE_COMPILE_CACHE names another place) spares each new process
// compiling the same ~1,700 modules again.
import { enableCompileCache, registerHooks } from 'node:module';
import { fileURLToPath } from 'node:url';

if (!process.env.NODE_COMPILE_CACHE) enableCompileCache(fileURLToPath(new URL('../node_modules/.cache/node-compile', import.meta.url)));

registerHooks({
  resolve(specifier, context, nextResolve) {
    try {
      return nextResolve(specifier, context);
    } catch (err) {
      if (err?.code === 'ERR_MODULE_NOT_FOUND' && specifier.endsWith('.js') && (specifier.startsWith('./') || specifier.startsWith('../'))) {
        return nextResolve(`${specifier.slice(0, -3)}.ts`, context);
      }
      throw err;
    }
  },
});
