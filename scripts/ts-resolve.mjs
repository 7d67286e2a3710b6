// Runs the TypeScript sources with Node's own type stripping, without a loader: `node --import
// ./scripts/ts-resolve.mjs services/auth/src/main.ts`. The sources import each other by their
// compiled names (`./app.js`, as TypeScript's NodeNext resolution wants); this resolves such a
// relative `.js` that does not exist to the `.ts` beside it. Node strips the types itself (the
// code is erasable syntax only: tsconfig's `erasableSyntaxOnly`). A synchronous, in-thread hook:
// a process starts in a fraction of the time and CPU tsx's loader thread and transform take.
import { registerHooks } from 'node:module';

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
