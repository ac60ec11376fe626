import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.ts';

describe('network limits in the configuration', () => {
  it('has defaults for the HTTP timeouts and cap and the MQTT budgets', () => {
    const config = loadConfig({});
    expect(config.http).toEqual({ headersTimeoutMs: 10_000, requestTimeoutMs: 30_000, keepAliveTimeoutMs: 5_000, maxConnectionsPerAddress: 1000 });
    expect(config.mqtt).toMatchObject({ maxPublishesPerTokenPerSecond: 100, maxPublishesPerAddressPerSecond: 2000 });
  });

  it('reads them from the environment', () => {
    const config = loadConfig({
      HTTP_HEADERS_TIMEOUT_MS: '2000',
      HTTP_REQUEST_TIMEOUT_MS: '120000',
      HTTP_MAX_CONNECTIONS_PER_ADDRESS: '50',
      MQTT_MAX_PUBLISHES_PER_TOKEN_PER_SECOND: '5',
      MQTT_MAX_PUBLISHES_PER_ADDRESS_PER_SECOND: '100000',
    });
    expect(config.http).toMatchObject({ headersTimeoutMs: 2000, requestTimeoutMs: 120_000, maxConnectionsPerAddress: 50 });
    expect(config.mqtt).toMatchObject({ maxPublishesPerTokenPerSecond: 5, maxPublishesPerAddressPerSecond: 100_000 });
  });

  it('refuses a request timeout below the headers timeout (Node would not start)', () => {
    expect(() => loadConfig({ HTTP_HEADERS_TIMEOUT_MS: '20000', HTTP_REQUEST_TIMEOUT_MS: '10000' })).toThrow(ConfigError);
    expect(() => loadConfig({ HTTP_HEADERS_TIMEOUT_MS: '20000', HTTP_REQUEST_TIMEOUT_MS: '10000' })).toThrow(/HTTP_REQUEST_TIMEOUT_MS/);
  });
});
