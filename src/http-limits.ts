// The HTTP listener faces the internet: requests must arrive within a time (Node's defaults let a
// slow client hold a connection for 5 minutes), and one source address may hold only so many
// connections, as on the MQTT listener.
import { createServer, type RequestListener, type Server } from 'node:http';
import type { Config } from './config.ts';
import { AddressConnections } from './lib/address-connections.ts';
import type { Logger } from './logger.ts';

/**
 * An HTTP server with the configured timeouts and connection cap. The timeouts bound receiving a
 * request, not answering it: a long poll or an SSE stream goes on as long as it needs.
 */
export function createLimitedServer(limits: Config['http'], log: Logger, listener: RequestListener): Server {
  const server = createServer(
    {
      headersTimeout: limits.headersTimeoutMs,
      requestTimeout: limits.requestTimeoutMs,
      keepAliveTimeout: limits.keepAliveTimeoutMs,
      // Node checks the timeouts every 30 s by default, so they would fire up to 30 s late.
      connectionsCheckingInterval: Math.max(50, Math.min(1_000, limits.headersTimeoutMs / 4)),
    },
    listener,
  );
  const addresses = new AddressConnections(limits.maxConnectionsPerAddress, log, 'HTTP');
  server.on('connection', (socket) => {
    if (!addresses.admit(socket)) socket.destroy();
  });
  return server;
}
