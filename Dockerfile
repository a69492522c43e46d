# syntax=docker/dockerfile:1
# tuneserve container image: build -> train (seeded quick budget) -> slim runtime.
#
#   podman build --format docker -t tuneserve .            # docker build -t tuneserve . works too
#   podman run --rm -p 5000:8080 tuneserve                 # reference client on port 5000
#
# Base image. On a real registry pin it by digest so rebuilds are reproducible:
#   docker buildx imagetools inspect node:20-bookworm-slim   # prints the current sha256 digest
#   docker build --build-arg NODE_IMAGE=node:20-bookworm-slim@sha256:<digest> .
ARG NODE_IMAGE=node:20-bookworm-slim

# ---------------------------------------------------------------------------------------------
# toolchain: compilers for better-sqlite3 and the OpenBLAS accelerator (never reaches runtime).
FROM ${NODE_IMAGE} AS toolchain
RUN apt-get update \
 && apt-get install -y --no-install-recommends g++ gcc libopenblas-dev make python3 \
 && rm -rf /var/lib/apt/lists/*
# node-gyp uses the headers shipped with the image instead of downloading them.
ENV npm_config_nodedir=/usr/local \
    npm_config_update_notifier=false \
    npm_config_fund=false \
    npm_config_audit=false
WORKDIR /app

# manifests: only package.json / package-lock.json files, so the dependency layer below is
# reused whenever no manifest changed (this stage reruns on any change, its output does not).
# It also notes the locked better-sqlite3 version for the sqlite stage.
FROM toolchain AS manifests
COPY . /src
RUN find /src -type f ! -name package.json ! -name package-lock.json -delete \
 && find /src -mindepth 1 -type d -empty -delete \
 && mkdir /pins && node -e "const l = require('/src/package-lock.json'); \
      const v = l.packages['node_modules/better-sqlite3']?.version; \
      if (!v) throw new Error('better-sqlite3 is not in package-lock.json'); console.log(v)" >/pins/better-sqlite3

# sqlite: compiling better-sqlite3 is the slowest step of the build; it depends only on the locked
# version, so this stage stays cached while other dependencies change.
FROM toolchain AS sqlite
COPY --from=manifests /pins/better-sqlite3 /pins/better-sqlite3
WORKDIR /sqlite
RUN --mount=type=cache,target=/root/.npm,sharing=locked \
    npm init -y >/dev/null \
 && npm install --ignore-scripts --no-save "better-sqlite3@$(cat /pins/better-sqlite3)" \
 && npm rebuild better-sqlite3 \
 && cp node_modules/better-sqlite3/build/Release/better_sqlite3.node /sqlite/

# deps: every dependency (dev included, to build). Scripts are skipped at install time because
# workspace sources are not here yet; the one third-party native module comes from `sqlite`.
FROM toolchain AS deps
COPY --from=manifests /src/ /app/
COPY --from=sqlite /sqlite/better_sqlite3.node /tmp/better_sqlite3.node
# The npm download cache survives between builds even when this layer must be redone.
RUN --mount=type=cache,target=/root/.npm,sharing=locked \
    npm ci --ignore-scripts --prefer-offline \
 && for dir in $(find node_modules packages/*/node_modules -maxdepth 1 -name better-sqlite3 -type d 2>/dev/null); do \
      mkdir -p "$dir/build/Release" && cp /tmp/better_sqlite3.node "$dir/build/Release/"; done \
 && node -e "new (require('better-sqlite3'))(':memory:').prepare('select 1').get()" \
 && rm /tmp/better_sqlite3.node

# build: TypeScript, the web bundle (workspace build scripts) and the native accelerator.
FROM deps AS build
COPY . /app/
# build:native never fails (it falls back to wasm), so check that the accelerator really exists.
RUN npm run build:native -w @tuneserve/runtime \
 && test -f packages/runtime/native/build/tuneserve_blas.node \
 && npm run build

# train: a seeded search and retrain with a small budget; only the exported model leaves it.
FROM build AS train
ARG SPACE=seed
ARG TUNER=bayesian
ARG TRIALS=1
ARG EXECUTIONS=2
ARG EPOCHS=10
ARG SEED=42
ARG MAX_EPOCHS=100
ARG PATIENCE=10
ENV CI=true
RUN node packages/cli/dist/bin.js tune --space "$SPACE" --tuner "$TUNER" --max-trials "$TRIALS" \
      --executions-per-trial "$EXECUTIONS" --epochs "$EPOCHS" --seed "$SEED" \
      --directory /tmp/tuning --project-name mnist \
 && node packages/cli/dist/bin.js train --directory /tmp/tuning --project-name mnist \
      --max-epochs "$MAX_EPOCHS" --patience "$PATIENCE" --models-dir /tmp/models --name mnist \
 && mkdir -p /out && mv /tmp/models/mnist /out/mnist && rm -rf /tmp/tuning

# prod: production dependencies only, compiled output only. Third-party source maps and type
# declarations are dropped: over 200 MB (mostly TF.js) that nothing reads at run time.
FROM build AS prod
RUN npm prune --omit=dev \
 && rm -rf packages/*/src packages/*/test packages/*/tsconfig*.json packages/web/node_modules/.vite \
 && find packages -name '*.tsbuildinfo' -delete \
 && find node_modules \( -name '*.map' -o -name '*.d.ts' \) -type f -delete

# ---------------------------------------------------------------------------------------------
# runtime: Node, the OpenBLAS runtime library, tini, the app and the model. No compilers, no
# dev dependencies, no npm, no tuning database.
FROM ${NODE_IMAGE} AS runtime
RUN apt-get update \
 && apt-get install -y --no-install-recommends libopenblas0-pthread tini \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/* \
 && rm -rf /usr/local/lib/node_modules/npm /usr/local/lib/node_modules/corepack \
           /usr/local/bin/npm /usr/local/bin/npx /usr/local/bin/corepack /usr/local/include/node
WORKDIR /app
# Owned by root and read-only for the server user: the app cannot modify itself.
COPY --from=prod /app /app
# The model belongs to the server user, so a volume seeded from /models (compose) can take new
# versions from the trainer; the server itself still runs on a read-only root filesystem.
COPY --from=train --chown=1000:1000 /out/mnist /models/mnist
# Fail the build if the accelerator cannot load here (e.g. the OpenBLAS runtime library is missing).
# /tuning is the study folder compose's tuning profile shares between workers and the trainer: a
# named volume mounted there starts with this owner, so the server user can write to it.
RUN node -e "require('/app/packages/runtime/native/build/tuneserve_blas.node')" \
 && install -d -o 1000 -g 1000 /tuning
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=8080 \
    MODEL_DIR=/models/mnist \
    MODEL_NAME=mnist
# uid/gid 1000 is the image's `node` user; numeric so Kubernetes can verify runAsNonRoot.
USER 1000:1000
EXPOSE 8080
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=15s --timeout=10s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 8080) + '/v2/health/ready', { signal: AbortSignal.timeout(2500) }).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# tini forwards signals and reaps children, so node is not PID 1 and SIGTERM always stops it.
ENTRYPOINT ["/usr/bin/tini", "--", "node", "/app/packages/cli/dist/bin.js"]
CMD ["serve"]
