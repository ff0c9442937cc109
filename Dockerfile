# syntax=docker/dockerfile:1
# One image for every assay process; the command picks which one runs, e.g.
#   node dist/services/planner/src/main.js     (see docker-compose.yml)
#   node dist/services/cli/src/main.js run configs/experiments/demo.yaml
#
# Build with the code version baked in (the image has no .git, and experiment identities include it):
#   docker build --build-arg CODE_VERSION="$(git rev-parse HEAD | cut -c1-8)$(git diff --quiet HEAD -- || echo -dirty)" -t assay .

# Node 24, the current LTS line (README "Node"); package.json engines says the oldest line the dependencies allow.
ARG NODE_IMAGE=node:24-bookworm-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /app
# Dependencies first, so editing sources does not re-run npm ci.
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
ARG CODE_VERSION
RUN npm run build \
 && npm prune --omit=dev --no-audit --no-fund

FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build --chown=node:node /app/package.json /app/package-lock.json ./
COPY --from=build --chown=node:node /app/node_modules ./node_modules
COPY --from=build --chown=node:node /app/dist ./dist
COPY --from=build --chown=node:node /app/configs ./configs
# Declared late so a new version does not invalidate the layers above.
ARG CODE_VERSION
# Fail the build rather than ship an image whose runs cannot be attributed to a commit
# (resolveCodeVersion reads <repo>/CODE_VERSION when git cannot answer).
RUN if ! printf '%s' "$CODE_VERSION" | grep -Eq '^[A-Za-z0-9._-]+$'; then \
      echo 'CODE_VERSION is missing or not one token: pass --build-arg CODE_VERSION=<commit>[-dirty] (or set ASSAY_CODE_VERSION for docker compose)' >&2; \
      exit 1; \
    fi \
 && printf '%s\n' "$CODE_VERSION" > /app/CODE_VERSION \
 && mkdir -p /app/outputs && chown node:node /app/outputs
USER node
CMD ["node", "dist/services/cli/src/main.js", "--help"]
