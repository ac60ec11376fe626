// Webhook test helpers: typed documents for the webhook API and a real HTTP receiver in the test
// process that records every request and answers as the test says.
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook as StandardWebhook } from 'standardwebhooks';
import { graphql } from '../../src/graphql/typed.ts';

export const WebhookFields = graphql(`
  fragment WebhookFields on Webhook @_unmask {
    id url events description enabled disabledAt disabledReason
    applicationVersion { name }
    statusCodes { from to }
  }
`);

export const CreateWebhook = graphql(
  `
  mutation CreateWebhook($input: CreateWebhookInput!) {
    createWebhook(input: $input) { secret webhook { ...WebhookFields } }
  }
`,
  [WebhookFields],
);

export const UpdateWebhook = graphql(
  `
  mutation UpdateWebhook($id: ID!, $input: UpdateWebhookInput!) { updateWebhook(id: $id, input: $input) { ...WebhookFields } }
`,
  [WebhookFields],
);

export const Webhooks = graphql(
  `
  query Webhooks { webhooks { ...WebhookFields } }
`,
  [WebhookFields],
);

export const DeleteWebhook = graphql(`
  mutation DeleteWebhook($id: ID!) { deleteWebhook(id: $id) }
`);

export const RotateWebhookSecret = graphql(`
  mutation RotateWebhookSecret($id: ID!) { rotateWebhookSecret(id: $id) { secret webhook { id } } }
`);

const DeliveryFields = graphql(`
  fragment DeliveryFields on WebhookDelivery @_unmask {
    id eventId eventType attempt status responseCode error durationMs attemptedAt nextAttemptAt
  }
`);

export const TestWebhook = graphql(
  `
  mutation TestWebhook($id: ID!) { testWebhook(id: $id) { ...DeliveryFields } }
`,
  [DeliveryFields],
);

export const RedeliverWebhookEvent = graphql(`
  mutation RedeliverWebhookEvent($webhookId: ID!, $eventId: String!) { redeliverWebhookEvent(webhookId: $webhookId, eventId: $eventId) }
`);

export const WebhookDeliveries = graphql(
  `
  query WebhookDeliveries($first: Int, $after: String) {
    webhooks {
      id
      deliveries(first: $first, after: $after) { edges { cursor node { ...DeliveryFields } } pageInfo { hasNextPage endCursor } }
    }
  }
`,
  [DeliveryFields],
);

export interface Received {
  id: string;
  type: string;
  data: Record<string, unknown>;
  body: string;
  headers: IncomingHttpHeaders;
  at: number;
}

/** What the receiver answers a request with: a status, or 'hang' (never answer). */
export type Answer = number | 'hang';

export class Receiver {
  readonly received: Received[] = [];
  /** Every request, answered or not (received only has those answered 2xx). */
  readonly requests: Received[] = [];
  answer: (request: Received, n: number) => Answer = () => 200;
  /** Headers of every answer (e.g. a Location with a 3xx). */
  responseHeaders: Record<string, string> = {};
  private server: Server | undefined;
  port = 0;

  static async start(port = 0): Promise<Receiver> {
    const r = new Receiver();
    await r.listen(port);
    return r;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}/hook`;
  }

  async listen(port = this.port): Promise<void> {
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        const parsed = JSON.parse(body) as { type: string; data: Record<string, unknown> };
        const request = { id: String(req.headers['webhook-id']), type: parsed.type, data: parsed.data, body, headers: req.headers, at: Date.now() };
        this.requests.push(request);
        const answer = this.answer(request, this.requests.length);
        if (answer === 'hang') return;
        if (answer >= 200 && answer < 300) this.received.push(request);
        res.writeHead(answer, this.responseHeaders).end();
      });
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => resolve());
    });
    this.server = server;
    this.port = (server.address() as AddressInfo).port;
  }

  /** Stops listening and cuts every connection: the receiver is down. */
  async close(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeAllConnections();
    await closed;
  }

  ofType(type: string): Received[] {
    return this.received.filter((r) => r.type === type);
  }
}

/** Verifies a delivery with the Standard Webhooks reference library; throws when it does not. */
export function verify(secret: string, r: Received): unknown {
  return new StandardWebhook(secret).verify(r.body, {
    'webhook-id': String(r.headers['webhook-id']),
    'webhook-timestamp': String(r.headers['webhook-timestamp']),
    'webhook-signature': String(r.headers['webhook-signature']),
  });
}
