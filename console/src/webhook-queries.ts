// The GraphQL documents of the Webhooks page, typed from schema.graphql by gql.tada.
import { graphql, type ResultOf } from '../../src/graphql/typed.ts';

const WebhookFields = graphql(`
  fragment WebhookRowFields on Webhook @_unmask {
    id url description events enabled disabledAt disabledReason failingSince createdAt
    applicationVersion { name }
    statusCodes { from to }
  }
`);

export const WebhooksQuery = graphql(`query ConsoleWebhooks { webhooks { ...WebhookRowFields } }`, [WebhookFields]);

export const CreateWebhook = graphql(
  `mutation ConsoleCreateWebhook($input: CreateWebhookInput!) { createWebhook(input: $input) { secret webhook { ...WebhookRowFields } } }`,
  [WebhookFields],
);

export const UpdateWebhook = graphql(
  `mutation ConsoleUpdateWebhook($id: ID!, $input: UpdateWebhookInput!) { updateWebhook(id: $id, input: $input) { ...WebhookRowFields } }`,
  [WebhookFields],
);

export const DeleteWebhook = graphql(`mutation ConsoleDeleteWebhook($id: ID!) { deleteWebhook(id: $id) }`);

export const RotateWebhookSecret = graphql(`mutation ConsoleRotateWebhookSecret($id: ID!) { rotateWebhookSecret(id: $id) { secret } }`);

export const TestWebhook = graphql(`mutation ConsoleTestWebhook($id: ID!) { testWebhook(id: $id) { status responseCode error durationMs } }`);

export const RedeliverWebhookEvent = graphql(
  `mutation ConsoleRedeliver($webhookId: ID!, $eventId: String!) { redeliverWebhookEvent(webhookId: $webhookId, eventId: $eventId) }`,
);

export const WebhookDeliveriesQuery = graphql(`
  query ConsoleWebhookDeliveries($first: Int, $after: String) {
    webhooks {
      id
      deliveries(first: $first, after: $after) {
        edges { node { id eventId eventType attempt status responseCode error durationMs attemptedAt nextAttemptAt } }
        pageInfo { hasNextPage endCursor }
      }
    }
  }
`);

export type WebhookRow = ResultOf<typeof WebhooksQuery>['webhooks'][number];
export type EventType = WebhookRow['events'][number];
