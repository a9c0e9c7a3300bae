# rectify's image: the TypeScript sources run through tsx on Node 20 (no build step).
FROM node:20-bookworm-slim

# better-sqlite3 compiles with node-gyp when no prebuilt binary fits.
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY bin ./bin
COPY src ./src
COPY migrations ./migrations
COPY runbooks ./runbooks
COPY demo/flaky-service.ts ./demo/flaky-service.ts
COPY tsconfig.json ./

# The database lives on a volume; the process runs unprivileged.
RUN mkdir -p /data && chown node:node /data
USER node
ENV RECTIFY_DB=sqlite:/data/rectify.db \
    RECTIFY_RUNBOOKS=/app/runbooks
EXPOSE 9095
ENTRYPOINT ["node", "bin/rectify.js"]
CMD ["serve"]
