// Telemetry samples from devices (kp1 DCX) and the operator's view of them.
import type { EventBus } from '../events/bus.ts';
import type { Db } from '../storage/db.ts';
import * as store from '../storage/telemetry-store.ts';
import { badInput } from './errors.ts';
import type { TelemetrySample } from './types.ts';

const MAX_TELEMETRY_LAST = 1000;

export class TelemetryService {
  constructor(
    private readonly db: Db,
    private readonly bus: EventBus,
  ) {}

  async record(endpointId: string, samples: { timestamp: Date; receivedAt: Date; data: unknown }[]): Promise<TelemetrySample[]> {
    if (samples.length === 0) return [];
    return this.db.transaction(async (tx) => {
      const stored = await store.insertSamples(tx, endpointId, samples);
      await this.bus.publish(tx, 'telemetryReceived', { endpointId, samples: stored });
      return stored;
    });
  }

  async latest(endpointId: string, last: number): Promise<TelemetrySample[]> {
    if (!Number.isInteger(last) || last < 0 || last > MAX_TELEMETRY_LAST) {
      throw badInput(`"last" must be from 0 to ${MAX_TELEMETRY_LAST}.`, { field: 'last' });
    }
    return last === 0 ? [] : store.listLatestSamples(this.db, endpointId, last);
  }

  async byIds(ids: number[]): Promise<TelemetrySample[]> {
    return store.findSamples(this.db, ids);
  }
}
