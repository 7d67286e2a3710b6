# One image for every process; the command picks the entry point (see docker-compose.yml, k8s/):
# `dist/gateway/src/main.js` (default), `dist/services/<name>/src/main.js`,
# `dist/services/<name>/src/migrate.js`, `dist/services/generation/src/worker.js`,
# `dist/services/auth/src/cli/roles.js`.
#
# The base is pinned by digest (node:26-bookworm-slim); bump the digest with the Node version in
# package.json (`node` devDependency), `engines` and .node-version — e2e/test/repository.test.ts
# fails when they disagree.
ARG NODE_IMAGE=node:26-bookworm-slim@sha256:367679cf9792759492a486e4aa4b421764d71a9546a6dae8aab81a99eb797b3e

# Build: install the workspace, compile every entry point (scripts/build.ts: esbuild), build the
# web app (Vite, into dist/web), then `pnpm deploy --prod` the release package: the compiled files,
# the web app's static files and production dependencies only.
FROM ${NODE_IMAGE} AS build
WORKDIR /src
RUN npm install -g pnpm@10.34.9
COPY . .
RUN pnpm install --frozen-lockfile && pnpm run build

# Run: plain node, no TypeScript at run time, no devDependencies, no second Node binary.
FROM ${NODE_IMAGE}
ENV NODE_ENV=production
# The gateway serves the web app built into the image (the same in compose and Kubernetes).
ENV WEB_DIST_DIR=/app/dist/web
WORKDIR /app
COPY --from=build --chown=root:root /src/.build/app /app
# The only places a process writes (mount volumes there; the root filesystem can be read-only):
# /data for images, exports, signing keys and the development mailbox.
RUN mkdir -p /data && chown node:node /data
VOLUME ["/data"]
USER node
# gateway, auth, credits-ledger, generation, billing, notification, render worker (health/metrics)
EXPOSE 8080 4001 4002 4003 4004 4005 4103
ENTRYPOINT ["node", "--enable-source-maps"]
CMD ["dist/gateway/src/main.js"]
