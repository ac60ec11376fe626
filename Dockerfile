# syntax=docker/dockerfile:1
# The cex server: `docker build -t cex .`, then
#   docker run --init -p 8080:8080 -p 1883:1883 -v cex-data:/data cex
# --init (or `init: true` in compose) gives the container a real PID 1 that forwards signals
# and reaps children; the server drains on SIGTERM either way (it handles it itself).

# Build stage: every dependency, the server bundle (dist/server) and the console (dist/console).
FROM node:22.12.0-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
COPY patches ./patches
RUN npm ci --no-audit --no-fund
COPY . .
RUN npm run build

# Runtime stage: production dependencies, the built files and the migrations; no sources, no tools.
FROM node:22.12.0-bookworm-slim
ENV NODE_ENV=production \
    DATA_DIR=/data \
    HOST=0.0.0.0 \
    PORT=8080 \
    MQTT_PORT=1883
WORKDIR /app
COPY package.json package-lock.json ./
COPY patches ./patches
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist ./dist
COPY drizzle ./drizzle
# The embedded database (PGlite) lives in /data unless DATABASE_URL is set; `node` owns it.
RUN mkdir -p /data && chown node:node /data
VOLUME /data
USER node
EXPOSE 8080 1883
HEALTHCHECK --interval=10s --timeout=5s --start-period=60s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||8080)+'/readyz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
CMD ["node", "dist/server/main.js"]
