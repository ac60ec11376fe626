FROM node:20-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production
COPY package.json package-lock.json ./
COPY patches ./patches
RUN npm ci --omit=dev --no-audit --no-fund
COPY tsconfig.json drizzle.config.ts schema.graphql ./
COPY drizzle ./drizzle
COPY src ./src
COPY scripts ./scripts
EXPOSE 8080 1883
USER node
CMD ["npm", "start"]
