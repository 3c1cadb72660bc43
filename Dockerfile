# warmpool as a container of its own. It drives the host's Docker Engine through the mounted
# socket, so it sees and removes only the containers labelled with its own replica id:
#
#   docker build -t warmpool .
#   docker run -d --name warmpool -p 127.0.0.1:4000:4000 \
#     -v /var/run/docker.sock:/var/run/docker.sock \
#     -e WARMPOOL_REPLICA_ID=warmpool-1 -e HOST=0.0.0.0 warmpool
#
# Publish the port on loopback, as above: whoever reaches it can run code, so anything wider needs
# something in front that decides who may call. The images it pools must already be on that engine
# (npm run images builds the demo ones).
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npx tsc -p tsconfig.build.json && npm prune --omit=dev

FROM node:20-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production HOST=0.0.0.0 PORT=4000
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
EXPOSE 4000
# SIGTERM reaches node directly, so shutdown removes this replica's containers before exiting.
CMD ["node", "dist/main.js"]
