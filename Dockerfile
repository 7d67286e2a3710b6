# One image for every process; the command picks the entry point (see docker-compose.yml, k8s/).
FROM node:24-bookworm-slim AS deps
WORKDIR /app
RUN npm install -g pnpm@10.34.9
COPY pnpm-lock.yaml pnpm-workspace.yaml package.json ./
COPY gateway/package.json gateway/
COPY services/auth/package.json services/auth/
COPY services/credits-ledger/package.json services/credits-ledger/
COPY services/generation/package.json services/generation/
COPY services/billing/package.json services/billing/
COPY services/notification/package.json services/notification/
COPY packages/config/package.json packages/config/
COPY packages/logger/package.json packages/logger/
COPY packages/db/package.json packages/db/
COPY packages/queue/package.json packages/queue/
COPY packages/contracts/package.json packages/contracts/
COPY packages/http/package.json packages/http/
COPY packages/testing/package.json packages/testing/
COPY packages/client/package.json packages/client/
COPY bench/package.json bench/
COPY e2e/package.json e2e/
RUN pnpm install --frozen-lockfile

FROM node:24-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production
COPY --from=deps /app /app
COPY . .
RUN mkdir -p /data && chown node:node /data
USER node
# gateway, auth, credits-ledger, generation, billing, notification, render worker (health/metrics)
EXPOSE 8080 4001 4002 4003 4004 4005 4103
# e.g. `services/auth/src/main.ts`, `services/generation/src/worker.ts`, `scripts/migrate.ts`
ENTRYPOINT ["node", "--import", "tsx"]
CMD ["gateway/src/main.ts"]
