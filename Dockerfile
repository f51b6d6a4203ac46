# Node-RED 4.1 (official image) with this pack installed and the bundled flow deployed.
#
#   docker build -t node-red-iot-medallion .
#   docker run -p 1880:1880 \
#     -e DATABASE_URL=postgres://medallion@db.example:5432/medallion \
#     -e NODE_RED_CREDENTIAL_SECRET=<a long random string> \
#     -e NODE_RED_ADMIN_PASSWORD_HASH="$(npx node-red admin hash-pw)" \
#     -v medallion_data:/data node-red-iot-medallion
#
# The image has no PostgreSQL of its own: DATABASE_URL must point at one (the pg-config
# node of the flow reads ${DATABASE_URL}). Put a password in the URL or, better, in the
# node's Password field (encrypted with NODE_RED_CREDENTIAL_SECRET).
#
# The headless CLI is in the image too (it runs the flow's file branch in its own Node-RED):
#   docker run --rm -e DATABASE_URL=… -v "$PWD/in:/data/in" --entrypoint npx \
#     node-red-iot-medallion medallion ingest /data/in --once
#
# The Node-RED image is a build argument: Node-RED 5 needs Node.js 22, e.g.
#   docker build --build-arg NODE_RED_IMAGE=nodered/node-red:5.0.7-22 -t node-red-iot-medallion:nr5 .
# (the official tags read <Node-RED version>-<Node.js major>); both majors are tested, see the README.
ARG NODE_RED_IMAGE=nodered/node-red:4.1.10-20

FROM node:20-bookworm-slim AS build
WORKDIR /src
# the sources first: npm ci runs the prepare script, which builds dist/
COPY package.json package-lock.json tsconfig.json tsconfig.build.json README.md ./
COPY bin ./bin
COPY lib ./lib
COPY nodes ./nodes
COPY icons ./icons
COPY examples ./examples
COPY flows ./flows
RUN npm ci --no-audit --no-fund
# prepack runs `npm run build` again, so the tarball holds a fresh dist/ (and flows/ for the CLI)
RUN mkdir /pack && npm pack --pack-destination /pack

FROM ${NODE_RED_IMAGE}
COPY --from=build --chown=node-red:node-red /pack/ /tmp/pack/
# /usr/src/node-red is the image's Node-RED install; modules installed there are loaded
RUN cd /usr/src/node-red \
 && npm install --omit=dev --no-audit --no-fund --no-update-notifier /tmp/pack/node-red-iot-medallion-*.tgz \
 && rm -rf /tmp/pack
COPY --from=build --chown=node-red:node-red /src/dist/bin/settings.js /data/settings.js
COPY --chown=node-red:node-red flows/medallion.json /data/flows.json
# Listen on all interfaces inside the container; settings.js warns when no admin login is set
# The bundled flow's watch-folder reads ${MEDALLION_LANDING}: mount a volume there to drop files in
ENV HOST=0.0.0.0 \
    PORT=1880 \
    MEDALLION_LANDING=/data/landing \
    MEDALLION_QUARANTINE=/data/quarantine
EXPOSE 1880
