# syntax=docker/dockerfile:1
# lambda-extproc: the Envoy ext_proc sidecar that serves HTTP routes from AWS Lambda.
#
#   docker build -t lambda-extproc .
#   docker run -v $PWD/config/docker-compose.yaml:/etc/lambda-extproc/config.yaml:ro lambda-extproc
#
# Node 22: its HTTP/2 server honours raised RST_STREAM limits (Node 20 ignores
# them), which matters behind an Envoy that resets one stream per request.
# Pin a digest (node:22-bookworm-slim@sha256:...) for reproducible builds.
ARG NODE_IMAGE=node:22-bookworm-slim

# --- build: all dependencies, TypeScript -> dist/ ------------------------------
FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
# The optional Node 22 binary package is for running the test suite on a
# host whose Node is older; the image already is Node 22.
RUN npm ci --omit=optional --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY proto ./proto
COPY src ./src
RUN npm run build

# --- deps: production dependencies only -----------------------------------------
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --omit=optional --no-audit --no-fund && npm cache clean --force

# --- runtime ----------------------------------------------------------------------
FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production \
    LAMBDA_EXTPROC_CONFIG=/etc/lambda-extproc/config.yaml
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
COPY proto ./proto
COPY scripts/healthcheck.js ./scripts/healthcheck.js
# The image's unprivileged "node" user, by number so that Kubernetes'
# runAsNonRoot can verify it. Nothing in /app is writable by it.
USER 1000:1000
# ext_proc + grpc.health.v1 (the config's `listen`; 127.0.0.1 by default, so a
# container reached from outside needs `listen: 0.0.0.0:50051`).
EXPOSE 50051
# SIGTERM drains: health NOT_SERVING, in-flight invocations finish within
# drain_timeout (25 s), exit 0. Docker's default stop timeout is 10 s; run with
# `--stop-timeout 30` (compose: stop_grace_period) to let a drain complete.
STOPSIGNAL SIGTERM
# grpc.health.v1 Check on the sidecar's own port (LAMBDA_EXTPROC_HEALTH_ADDRESS
# if the config listens elsewhere than 127.0.0.1:50051 / 0.0.0.0:50051).
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s --retries=3 \
  CMD ["node", "/app/scripts/healthcheck.js"]
ENTRYPOINT ["node", "/app/dist/main.js"]
CMD ["--config", "/etc/lambda-extproc/config.yaml"]
