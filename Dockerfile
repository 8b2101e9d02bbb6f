# mecsim image: the CLI (`mecsim run`, `mecsim agent`, …) on Node 20. mecsim runs its TypeScript
# sources through tsx, which is a runtime dependency: there is no build step, only the production
# dependencies and the sources.
#   docker build -t mecsim .
#   docker run --rm mecsim list
# docker-compose.yml runs a whole cluster (NATS ×3, orchestrator, agents) from this image.

# ---- deps: production node_modules only (no vitest, typescript, testcontainers) ----
FROM node:20-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force

# ---- runtime: node_modules from deps, the sources, a non-root user ----
FROM node:20-slim AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY package.json tsconfig.json ./
COPY bin ./bin
COPY agents ./agents
COPY bus ./bus
COPY catalog ./catalog
COPY orchestrator ./orchestrator
COPY scenarios ./scenarios
# run folders go to /results, `mecsim cluster init` writes to /cluster (volumes in docker-compose.yml);
# a new named volume takes this directory's owner, so the non-root user can write to it
RUN mkdir -p /results /cluster && chown node:node /results /cluster
# the sources stay root-owned and read-only to the process; tsx caches its transforms under /tmp
USER node
ENTRYPOINT ["node", "bin/mecsim.js"]
CMD ["--help"]
