# regsweep as a container image: `docker build .` pulls the official Node 22 image; where no base can
# be pulled, scripts/build-image.sh builds this same file with buildah on bases it makes locally.
# Every RUN and the ENTRYPOINT are exec form: the locally made bases have no shell.
ARG BASE_IMAGE=node:22-slim
# The build stage needs npm as well as node (node:22-slim has both).
ARG BUILD_IMAGE=${BASE_IMAGE}

FROM ${BUILD_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json LICENSE ./
# --ignore-scripts: the one install script in the tree (esbuild, a test tool) is not needed to build.
RUN ["npm", "ci", "--ignore-scripts", "--prefer-offline", "--no-audit", "--no-fund"]
COPY tsconfig.json tsconfig.build.json ./
COPY bin bin
COPY src src
COPY scripts/image-root.mjs scripts/
RUN ["node", "node_modules/typescript/bin/tsc", "-p", "tsconfig.build.json"]
RUN ["npm", "prune", "--omit=dev", "--ignore-scripts", "--no-audit", "--no-fund"]
# The runtime tree in /rootfs: /app (package.json, LICENSE, bin, dist, production node_modules without docs,
# tests, source maps and TypeScript sources), /usr/local/bin/regsweep, and an empty /work.
RUN ["node", "scripts/image-root.mjs", "/app", "/rootfs"]

FROM ${BASE_IMAGE}
ARG VERSION=0.1.0
LABEL org.opencontainers.image.title="regsweep" \
      org.opencontainers.image.description="Reclaims space in container registries without ever breaking a running workload" \
      org.opencontainers.image.source="https://github.com/regsweep/regsweep" \
      org.opencontainers.image.licenses="MIT" \
      org.opencontainers.image.version="${VERSION}"
COPY --from=build /rootfs/app /app
COPY --from=build /rootfs/usr/local/bin/ /usr/local/bin/
# Plans, journals and audits go to the working directory: writable by the (non-root) user.
COPY --from=build --chown=65532:65532 /rootfs/work /work
# HOME in /work too: the default cache (~/.cache/regsweep) and Docker's config.json are then found
# there, also on a base whose /etc/passwd does not know the user (HOME would be /, not writable).
ENV NODE_ENV=production HOME=/work
# The uid the Kubernetes manifests run as (deploy/kubernetes): numeric, so no /etc/passwd entry is needed.
USER 65532:65532
WORKDIR /work
ENTRYPOINT ["regsweep"]
