# rectify's image: the TypeScript sources compiled to dist/ in a build stage, run
# by Node 20 with the production dependencies only.
FROM node:20-bookworm-slim AS build
# better-sqlite3 compiles with node-gyp when no prebuilt binary fits.
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build && npm prune --omit=dev && npm cache clean --force

FROM node:20-bookworm-slim
# tini as process 1: it reaps the processes command actions leave behind (rectify
# kills a step's leftover process group, and someone must collect the zombies) and
# passes SIGTERM and SIGHUP on to rectify.
RUN apt-get update \
 && apt-get install -y --no-install-recommends tini \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
COPY bin ./bin
COPY migrations ./migrations
COPY runbooks ./runbooks
COPY demo/flaky-service.ts ./demo/flaky-service.ts

# The database lives on a volume at /data; the process runs unprivileged. `rectify` on PATH
# runs the same entrypoint, for `docker exec` / `kubectl exec` (rectify backup, audit verify).
# The image sets no RECTIFY_* variable: one would override the same key of a mounted
# rectify.yaml (the environment wins over the file). Its defaults are rectify's own,
# resolved against the working directory /app: runbooks ./runbooks (the bundled ones) and
# database sqlite:./data/rectify.db, where ./data is a link to the volume /data. A config
# file (/app/rectify.yaml, read when present, or --config) then decides both.
RUN mkdir -p /data && chown node:node /data \
 && ln -s /data /app/data \
 && ln -s /app/bin/rectify.js /usr/local/bin/rectify
USER node
# A bounded heap keeps the resident set near 140 MiB under an alert storm (the
# live heap stays near 60 MiB; V8 otherwise lets garbage grow toward the
# machine's size). Two malloc arenas instead of glibc's eight per core hold
# SQLite's and the threads' native memory about 8 MiB lower, at no measured cost
# in throughput. bench/ runs rectify with these same settings.
ENV NODE_OPTIONS="--max-old-space-size=160 --max-semi-space-size=4" \
    MALLOC_ARENA_MAX=2
EXPOSE 9095
ENTRYPOINT ["/usr/bin/tini", "--", "node", "bin/rectify.js"]
CMD ["serve"]
