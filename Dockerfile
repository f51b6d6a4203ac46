# Node-RED 4.1 (official image) with this pack, FlowFuse Dashboard 2.0 and the bundled flow.
#
#   docker build -t node-red-iot-medallion .
#   docker run -p 1880:1880 \
#     -e DATABASE_URL=postgres://medallion:<password>@db.example:5432/medallion \
#     -e MQTT_URL=mqtt://broker.example:1883 -e MEDALLION_INSTANCE=<a name unique per instance> \
#     -e NODE_RED_CREDENTIAL_SECRET=<a long random string> \
#     -e NODE_RED_ADMIN_PASSWORD_HASH="$(npx node-red admin hash-pw)" \
#     -v medallion_data:/data node-red-iot-medallion
#
# docker-compose.yml runs it with PostgreSQL and Mosquitto: `docker compose up --build`.
#
# The image has no PostgreSQL or MQTT broker of its own: the flow's pg-config node reads
# ${DATABASE_URL} and its MQTT nodes ${MQTT_URL}. A password can go in the URL or, better,
# in the pg-config node's Password field (encrypted with NODE_RED_CREDENTIAL_SECRET).
# The MQTT client id is medallion-${MEDALLION_INSTANCE}, else the container's host name,
# which changes when the container is recreated (the broker keeps queued readings per id).
# Without NODE_RED_ADMIN_PASSWORD_HASH the editor has no login (settings.js warns).
# /data is the Node-RED user directory (settings.js, flows.json, flows_cred.json).
#
# The headless CLI is in the image too (it runs the flow's file branch in its own Node-RED):
#   docker run --rm -e DATABASE_URL=… -v "$PWD/in:/data/in" --entrypoint medallion \
#     node-red-iot-medallion ingest /data/in --once
#
# The Node-RED image is a build argument: Node-RED 5 needs Node.js 22, e.g.
#   docker build --build-arg NODE_RED_IMAGE=nodered/node-red:5.0.7-22 -t node-red-iot-medallion:nr5 .
# (the official tags read <Node-RED version>-<Node.js major>); both majors are tested, see the README.
ARG NODE_RED_IMAGE=nodered/node-red:4.1.10-20

FROM node:20-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json tsconfig.json tsconfig.build.json README.md ./
COPY bin ./bin
COPY lib ./lib
COPY nodes ./nodes
COPY icons ./icons
COPY resources ./resources
COPY examples ./examples
COPY flows ./flows
# The dev dependencies are needed only to build, and none of their install scripts is
# (esbuild's binary comes as an optional dependency)
RUN npm ci --ignore-scripts --no-audit --no-fund
# The tarball npm would publish, and the Dashboard 2.0 version the bundled flow is developed with
RUN npm run build \
 && mkdir /pack \
 && npm pack --ignore-scripts --pack-destination /pack \
 && node -p "require('./package.json').devDependencies['@flowfuse/node-red-dashboard']" > /pack/dashboard.version

FROM ${NODE_RED_IMAGE}
COPY --from=build --chown=node-red:root /pack/ /tmp/pack/
# /usr/src/node-red is the image's Node-RED install; Node-RED loads the modules installed there.
# The dashboard is a dev dependency of the pack (installing the pack elsewhere does not pull it);
# the image installs it for the bundled flow's Dashboard 2.0 page.
RUN cd /usr/src/node-red \
 && npm install --omit=dev --no-audit --no-fund --no-update-notifier --cache=/tmp/npm-cache \
      /tmp/pack/node-red-iot-medallion-*.tgz \
      "@flowfuse/node-red-dashboard@$(cat /tmp/pack/dashboard.version)" \
 && rm -rf /tmp/pack /tmp/npm-cache
COPY --from=build --chown=node-red:root /src/dist/bin/settings.js /data/settings.js
COPY --chown=node-red:root flows/medallion.json /data/flows.json
# HOST: listen on all interfaces inside the container.
# MEDALLION_USER_DIR: the image's healthcheck loads /data/settings.js without --userDir;
#   this keeps it on /data (where the credential secret is kept when none is given).
# MEDALLION_LANDING: the watch-folder's landing folder; mount a volume there to drop files in.
ENV HOST=0.0.0.0 \
    PORT=1880 \
    MEDALLION_USER_DIR=/data \
    MEDALLION_LANDING=/data/landing \
    MEDALLION_QUARANTINE=/data/quarantine
EXPOSE 1880
