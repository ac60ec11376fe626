// Logged errors are bounded summaries: what failed and where, never the data of the request.
import { Writable } from 'node:stream';
import { DrizzleQueryError } from 'drizzle-orm/errors';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../src/logger.ts';

function logged(fields: Record<string, unknown>): string {
  let text = '';
  const stream = new Writable({
    write(chunk: Buffer | string, _encoding, callback) {
      text += chunk.toString();
      callback();
    },
  });
  createLogger('info', stream).error(fields, 'failed');
  return text;
}

describe('the err serializer', () => {
  const secretHash = 'ab'.repeat(32);
  const driverError = Object.assign(new Error('duplicate key value violates unique constraint "api_keys_secret_hash_unique"'), {
    code: '23505',
    severity: 'ERROR',
    constraint: 'api_keys_secret_hash_unique',
    table: 'api_keys',
    detail: `Key (secret_hash)=(${secretHash}) already exists.`,
    query: 'insert into api_keys values ($1, $2)',
    parameters: ['a name', secretHash],
    params: ['a name', secretHash],
  });

  it('keeps the type, message, codes, stack frames and cause, and drops parameters, detail and query values', () => {
    const error = new DrizzleQueryError('insert into "api_keys" ("name", "secret_hash") values ($1, $2)', ['a name', secretHash], driverError);
    const line = logged({ err: error });
    expect(line).not.toContain(secretHash);
    expect(line).not.toContain('a name');
    const { err } = JSON.parse(line) as { err: Record<string, any> };
    expect(err['message']).toBe('Failed query: insert into "api_keys" ("name", "secret_hash") values ($1, $2)');
    expect(err['stack']).toMatch(/^at /);
    expect(err['cause']).toMatchObject({ code: '23505', constraint: 'api_keys_secret_hash_unique', table: 'api_keys', severity: 'ERROR' });
  });

  it('bounds long messages and errors logged by graphql-yoga as args', () => {
    const line = logged({ args: [new Error(`bad ${'x'.repeat(100_000)}`), 'text'] });
    expect(line.length).toBeLessThan(3000);
    const { args } = JSON.parse(line) as { args: [{ type: string; message: string }, string] };
    expect(args[0]).toMatchObject({ type: 'Error', message: expect.stringMatching(/^bad x{496}…$/) });
    expect(args[1]).toBe('text');
  });
});
