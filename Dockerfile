# The service image: compiled in one stage, run from production dependencies only, as a user
# without privileges. Runs with a read-only root filesystem (see deploy/kubernetes/).

FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npx tsc -p tsconfig.build.json

FROM node:20-bookworm-slim AS production-dependencies
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev && npm cache clean --force

FROM node:20-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=production-dependencies /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
# The image's `node` user; numeric so that Kubernetes can check runAsNonRoot.
USER 1000:1000
EXPOSE 30035 30036
ENTRYPOINT ["node", "dist/src/cli/serve.js"]
