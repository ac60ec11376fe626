// The timeline of a command from its columns and delivery rows: ordered by time, the lifecycle's
// order at equal times, and a result after cancel or expiry shown as LATE_RESULT.
import { describe, expect, it } from 'vitest';
import { timeline } from '../../src/domain/deliveries.ts';
import type { Command } from '../../src/domain/types.ts';

const at = (s: number) => new Date(Date.UTC(2026, 11, 1, 3, 0, s));
const operator = { door: 'GRAPHQL' as const, apiKeyId: 'k1', name: 'ops' };

function command(overrides: Partial<Command>): Command {
  return {
    id: 1, endpointId: 'e1', commandType: 'reboot', payload: null, status: 'PENDING', statusCode: null, reasonPhrase: null,
    resultPayload: null, createdAt: at(0), updatedAt: at(0), expiresAt: at(60), executedAt: null, rerunOf: null,
    schemaVersion: null, canceledAt: null, canceledBy: null, invokedBy: operator, expiredAt: null, deliveredAt: null,
    deliveryCount: 0, lastDeliveredVia: null, batchId: null, ...overrides,
  };
}

describe('timeline', () => {
  it('orders by time: a delivery written after the cancel comes after it', () => {
    const c = command({ status: 'CANCELED', canceledAt: at(2), canceledBy: operator });
    const events = timeline(c, [
      { deliveredAt: at(1), via: 'MQTT' },
      { deliveredAt: at(3), via: 'HTTP' },
    ]);
    expect(events.map((e) => e.type)).toEqual(['CREATED', 'DELIVERED', 'CANCELED', 'DELIVERED']);
    expect(events[3]!.cause).toEqual({ kind: 'TRANSPORT', via: 'HTTP' });
  });

  it('at one instant keeps the lifecycle order: created, delivered, ended', () => {
    const c = command({ status: 'EXECUTED', statusCode: 200, executedAt: at(0) });
    const events = timeline(c, [{ deliveredAt: at(0), via: 'HTTP' }]);
    expect(events.map((e) => e.type)).toEqual(['CREATED', 'DELIVERED', 'EXECUTED']);
  });

  it('a result after expiry is a LATE_RESULT caused by the device, after the EXPIRED caused by the server', () => {
    const c = command({ status: 'EXECUTED', statusCode: 200, expiredAt: at(60), executedAt: at(61) });
    expect(timeline(c, []).map((e) => [e.type, e.cause.kind])).toEqual([
      ['CREATED', 'OPERATOR'],
      ['EXPIRED', 'SERVER'],
      ['LATE_RESULT', 'DEVICE'],
    ]);
  });
});
