// The audit trail (issue 14, item 4): every operator action leaves exactly one entry with its
// actor, target and input, in the action's own transaction (a failed action leaves none, an
// idempotent replay none); only ADMINs read it; secrets never reach it; the table refuses
// UPDATE, DELETE and TRUNCATE.
import { createHash, randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../src/app.ts';
import { graphql, type ResultOf, type VariablesOf } from '../src/graphql/typed.ts';
import * as api from './support/api.ts';
import { gql, gqlData, startApp, unique, type GqlResponse } from './support/app.ts';
import { errorOf } from './support/commands.ts';
import { rawQuery } from './support/db.ts';
import * as Doc from './support/documents.ts';
import { rest } from './support/rest.ts';
import { CreateWebhook } from './support/webhooks.ts';

const AuditLog = graphql(`
  query AuditLog($actor: String, $action: AuditAction, $target: AuditTargetInput, $from: DateTime, $to: DateTime, $first: Int, $after: String) {
    auditLog(actor: $actor, action: $action, target: $target, from: $from, to: $to, first: $first, after: $after) {
      edges { cursor node { id at action actor { apiKeyId name door } target { type id } input } }
      pageInfo { hasNextPage endCursor }
    }
  }
`);
type Entry = ResultOf<typeof AuditLog>['auditLog']['edges'][number]['node'];

const UpdateMetadata = graphql(`
  mutation AuditUpdateMetadata($endpointId: ID!, $set: JSON, $remove: [String!]) {
    updateEndpointMetadata(endpointId: $endpointId, set: $set, remove: $remove) { id }
  }
`);
const CancelCommand = graphql(`mutation AuditCancel($id: ID!) { cancelCommand(id: $id) { id status } }`);
const InvokeWithKey = graphql(`
  mutation AuditInvoke($input: InvokeCommandInput!) { invokeCommand(input: $input) { id } }
`);

const InvokeBatch = graphql(`
  mutation AuditInvokeBatch($input: InvokeCommandsInput!) { invokeCommands(input: $input) { id total } }
`);
const CancelBatch = graphql(`mutation AuditCancelBatch($id: ID!) { cancelCommandBatch(id: $id) { id } }`);

let app: App;
beforeAll(async () => {
  app = await startApp();
});
afterAll(() => app?.stop());

/** Every entry the filter selects (newest first), through the API as the test admin. */
async function audit(filter: VariablesOf<typeof AuditLog> = {}): Promise<Entry[]> {
  const entries: Entry[] = [];
  let after: string | null = null;
  for (;;) {
    const page: ResultOf<typeof AuditLog>['auditLog'] = (await gqlData(app, AuditLog, { ...filter, first: 100, after })).auditLog;
    entries.push(...page.edges.map((e) => e.node));
    if (!page.pageInfo.hasNextPage) return entries;
    after = page.pageInfo.endCursor;
  }
}

const actions = (entries: Entry[]) => entries.map((e) => e.action);

/** A key of this role and how it shows as an actor. */
async function keyOf(role: 'ADMIN' | 'OPERATOR' | 'VIEWER') {
  const key = await api.createApiKey(app, role);
  return { secret: key.secret, id: key.id, actor: { apiKeyId: key.id, name: key.name, door: 'GRAPHQL' } };
}

describe('each operator action leaves exactly one entry', () => {
  it('applications, versions, endpoints and everything done to an endpoint, with the actor, the target and the input', async () => {
    const op = await keyOf('OPERATOR');
    const appName = unique('app');
    const versionName = unique('v');
    const created = (await gqlData(app, Doc.CreateApplication, { name: appName }, op.secret)).createApplication;
    const version = (await gqlData(app, Doc.CreateApplicationVersion, { applicationName: appName, name: versionName }, op.secret))
      .createApplicationVersion;
    const endpointId = (
      await gqlData(app, Doc.CreateEndpoint, { applicationVersion: versionName, name: 'hall lamp', token: unique('tok') }, op.secret)
    ).createEndpoint.endpoint.id;
    await gqlData(app, Doc.RenameEndpoint, { endpointId, name: 'lobby lamp' }, op.secret);
    await gqlData(app, UpdateMetadata, { endpointId, set: { floor: 2 }, remove: ['old'] }, op.secret);
    await gqlData(app, Doc.RotateEndpointToken, { endpointId, token: null }, op.secret);
    await gqlData(app, Doc.SetEndpointCredentials, { endpointId, username: unique('user'), password: 'long enough password' }, op.secret);
    await gqlData(app, Doc.ClearEndpointCredentials, { endpointId }, op.secret);
    await gqlData(app, Doc.RevokeEndpoint, { endpointId }, op.secret);

    expect(await audit({ target: { type: 'APPLICATION', id: created.id } })).toEqual([
      expect.objectContaining({ action: 'APPLICATION_CREATED', actor: op.actor, target: { type: 'APPLICATION', id: created.id }, input: { name: appName } }),
    ]);
    const versionEntries = await audit({ target: { type: 'APPLICATION_VERSION', id: version.id } });
    expect(versionEntries).toEqual([
      expect.objectContaining({
        action: 'APPLICATION_VERSION_CREATED',
        actor: op.actor,
        input: { name: versionName, application: appName, applicationId: created.id },
      }),
    ]);
    const endpointEntries = await audit({ target: { type: 'ENDPOINT', id: endpointId } });
    expect(actions(endpointEntries)).toEqual([
      'ENDPOINT_REVOKED',
      'ENDPOINT_CREDENTIALS_CLEARED',
      'ENDPOINT_CREDENTIALS_SET',
      'ENDPOINT_TOKEN_ROTATED',
      'ENDPOINT_METADATA_CHANGED',
      'ENDPOINT_RENAMED',
      'ENDPOINT_CREATED',
    ]);
    for (const e of endpointEntries) expect(e.actor).toEqual(op.actor);
    const byAction = Object.fromEntries(endpointEntries.map((e) => [e.action, e.input]));
    expect(byAction['ENDPOINT_CREATED']).toEqual({ applicationVersion: versionName, name: 'hall lamp', tokenGiven: true });
    expect(byAction['ENDPOINT_RENAMED']).toEqual({ name: 'lobby lamp' });
    expect(byAction['ENDPOINT_METADATA_CHANGED']).toEqual({ set: { floor: 2 }, replace: false, remove: ['old'] });
    expect(byAction['ENDPOINT_TOKEN_ROTATED']).toEqual({ tokenGiven: false });
    expect(byAction['ENDPOINT_CREDENTIALS_SET']).toEqual({ username: expect.stringMatching(/^user-/) });
    // Newest first, and the filter by actor finds the same nine.
    const mine = await audit({ actor: op.id });
    expect(mine).toHaveLength(9);
    expect(mine.map((e) => Number(e.id))).toEqual(mine.map((e) => Number(e.id)).sort((x, y) => y - x));
  });

  it('command schemas set and removed, on their application version', async () => {
    const op = await keyOf('OPERATOR');
    const fx = await api.createEndpoint(app);
    const version = await api.applicationVersion(app, fx.appVersion);
    const schema = { type: 'object', properties: { delay: { type: 'integer' } } };
    await gqlData(app, Doc.SetCommandSchema, { applicationVersion: fx.appVersion, commandType: 'reboot', schema }, op.secret);
    await gqlData(app, Doc.RemoveCommandSchema, { applicationVersion: fx.appVersion, commandType: 'reboot' }, op.secret);
    // Removing what is not there changes nothing and records nothing.
    await gqlData(app, Doc.RemoveCommandSchema, { applicationVersion: fx.appVersion, commandType: 'reboot' }, op.secret);

    const entries = await audit({ target: { type: 'APPLICATION_VERSION', id: version!.id }, actor: op.id });
    expect(entries).toEqual([
      expect.objectContaining({ action: 'COMMAND_SCHEMA_REMOVED', actor: op.actor, input: { applicationVersion: fx.appVersion, commandType: 'reboot', version: 2 } }),
      expect.objectContaining({
        action: 'COMMAND_SCHEMA_SET',
        actor: op.actor,
        input: { applicationVersion: fx.appVersion, commandType: 'reboot', version: 1, schema },
      }),
    ]);
  });

  it('invoke, re-run and cancel over GraphQL and REST, each on its command, with the door', async () => {
    const op = await keyOf('OPERATOR');
    const fx = await api.createEndpoint(app);
    const invoked = (
      await gqlData(app, InvokeWithKey, { input: { endpointId: fx.endpointId, commandType: 'reboot', payload: { delay: 5 }, retentionSeconds: 60, idempotencyKey: unique('k') } }, op.secret)
    ).invokeCommand;
    const rerun = (await gqlData(app, Doc.RerunCommand, { id: invoked.id }, op.secret)).rerunCommand;
    await gqlData(app, CancelCommand, { id: rerun.id }, op.secret);
    const posted = await rest(app, 'POST', `/endpoints/${fx.endpointId}/commands/blink?awaitTimeout=0`, { body: { times: 3 }, key: op.secret });
    expect(posted.status).toBe(202);
    const restId = String(posted.body.id);
    expect((await rest(app, 'DELETE', `/endpoints/${fx.endpointId}/commands/blink/${restId}`, { key: op.secret })).status).toBe(200);

    const rest_ = { ...op.actor, door: 'REST' };
    expect(await audit({ target: { type: 'COMMAND', id: invoked.id } })).toEqual([
      expect.objectContaining({
        action: 'COMMAND_INVOKED',
        actor: op.actor,
        input: { endpointId: fx.endpointId, commandType: 'reboot', payload: { delay: 5 }, retentionSeconds: 60, idempotencyKey: expect.any(String) },
      }),
    ]);
    expect(await audit({ target: { type: 'COMMAND', id: rerun.id } })).toEqual([
      expect.objectContaining({ action: 'COMMAND_CANCELED', actor: op.actor, input: { endpointId: fx.endpointId, commandType: 'reboot' } }),
      expect.objectContaining({
        action: 'COMMAND_RERUN',
        actor: op.actor,
        input: { endpointId: fx.endpointId, commandType: 'reboot', rerunOf: invoked.id, retentionSeconds: 60 },
      }),
    ]);
    expect(await audit({ target: { type: 'COMMAND', id: restId } })).toEqual([
      expect.objectContaining({ action: 'COMMAND_CANCELED', actor: rest_ }),
      expect.objectContaining({ action: 'COMMAND_INVOKED', actor: rest_, input: expect.objectContaining({ commandType: 'blink', payload: { times: 3 } }) }),
    ]);
    expect(await audit({ actor: op.id })).toHaveLength(5);
  });

  it('concurrent invokes committed together each get their own entry', async () => {
    const op = await keyOf('OPERATOR');
    const fx = await api.createEndpoint(app);
    const ids = await Promise.all(
      Array.from({ length: 40 }, async (_, i) =>
        (await gqlData(app, InvokeWithKey, { input: { endpointId: fx.endpointId, commandType: 'burst', payload: { i } } }, op.secret)).invokeCommand.id,
      ),
    );
    const entries = await audit({ actor: op.id, action: 'COMMAND_INVOKED' });
    expect(entries.map((e) => e.target.id).sort()).toEqual([...ids].sort());
    for (const e of entries) expect((e.input as { payload: { i: number } }).payload.i).toBe(ids.indexOf(e.target.id));
  });

  it('a batch is one entry when invoked and one when canceled, not one per command; its replay none', async () => {
    const op = await keyOf('OPERATOR');
    const [a, b] = [await api.createEndpoint(app), await api.createEndpoint(app)];
    const unknown = '00000000-0000-4000-8000-000000000000';
    const input = { target: { endpointIds: [a.endpointId, b.endpointId, unknown] }, commandType: 'reboot', payload: { delay: 1 }, idempotencyKey: unique('b') };
    const batch = (await gqlData(app, InvokeBatch, { input }, op.secret)).invokeCommands;
    expect((await gqlData(app, InvokeBatch, { input }, op.secret)).invokeCommands.id).toBe(batch.id);
    await gqlData(app, CancelBatch, { id: batch.id }, op.secret);
    expect(await audit({ actor: op.id })).toEqual([
      expect.objectContaining({ action: 'BATCH_CANCELED', actor: op.actor, target: { type: 'BATCH', id: batch.id }, input: { canceled: 2 } }),
      expect.objectContaining({
        action: 'BATCH_INVOKED',
        actor: op.actor,
        target: { type: 'BATCH', id: batch.id },
        input: expect.objectContaining({ commandType: 'reboot', payload: { delay: 1 }, total: 2, skipped: 1 }),
      }),
    ]);
  });

  it('API keys created and revoked, never with the secret', async () => {
    const admin = await keyOf('ADMIN');
    const made = (await gqlData(app, Doc.CreateApiKey, { name: 'ci pipeline', role: 'VIEWER' }, admin.secret)).createApiKey;
    await gqlData(app, Doc.RevokeApiKey, { id: made.id }, admin.secret);
    expect(await audit({ target: { type: 'API_KEY', id: made.id } })).toEqual([
      expect.objectContaining({ action: 'API_KEY_REVOKED', actor: admin.actor, input: {} }),
      expect.objectContaining({ action: 'API_KEY_CREATED', actor: admin.actor, input: { name: 'ci pipeline', role: 'VIEWER' } }),
    ]);
    // The key that created `admin` is the configured one.
    expect(await audit({ target: { type: 'API_KEY', id: admin.id } })).toEqual([
      expect.objectContaining({ action: 'API_KEY_CREATED', actor: { apiKeyId: 'env:ADMIN_API_KEY', name: 'ADMIN_API_KEY', door: 'GRAPHQL' } }),
    ]);
  });
});

describe('a failed or repeated action leaves no entry', () => {
  it('refusals before and inside the transaction, and idempotent replays, record nothing', async () => {
    const op = await keyOf('OPERATOR');
    const fx = await api.createEndpoint(app);
    const other = await api.createEndpoint(app);
    const username = unique('taken');
    await api.setEndpointCredentials(app, other, username, 'long enough password');
    await api.setCommandSchema(app, fx.appVersion, 'dim', { type: 'object', properties: { level: { maximum: 100 } } });
    const done = await api.invokeCommand(app, fx.endpointId, 'dim', { level: 1 });
    await gqlData(app, CancelCommand, { id: done.id });
    const code = async (res: Promise<GqlResponse<unknown>>) => errorOf(await res).extensions?.code;
    const as = op.secret;

    expect(await code(gql(app, InvokeWithKey, { input: { endpointId: fx.endpointId, commandType: 'dim', payload: { level: 150 } } }, as))).toBe('BAD_USER_INPUT');
    expect(await code(gql(app, Doc.CreateApplication, { name: fx.application }, as))).toBe('CONFLICT');
    expect(await code(gql(app, Doc.CreateApplicationVersion, { applicationName: fx.application, name: fx.appVersion }, as))).toBe('CONFLICT');
    expect(await code(gql(app, Doc.CreateEndpoint, { applicationVersion: fx.appVersion, token: other.token }, as))).toBe('CONFLICT');
    // These two fail inside the transaction that would have recorded them (a unique index).
    expect(await code(gql(app, Doc.SetEndpointCredentials, { endpointId: fx.endpointId, username, password: 'long enough password' }, as))).toBe('CONFLICT');
    expect(await code(gql(app, Doc.RotateEndpointToken, { endpointId: fx.endpointId, token: other.token }, as))).toBe('CONFLICT');
    expect(await code(gql(app, CancelCommand, { id: done.id }, as))).toBe('CONFLICT');
    expect(await code(gql(app, Doc.SetCommandSchema, { applicationVersion: fx.appVersion, commandType: 'x', schema: { type: 'nope' } }, as))).toBe('BAD_USER_INPUT');
    expect(await code(gql(app, Doc.RenameEndpoint, { endpointId: fx.endpointId, name: 'x'.repeat(201) }, as))).toBe('BAD_USER_INPUT');
    expect(await code(gql(app, Doc.CreateApiKey, { name: 'nope', role: 'ADMIN' }, as))).toBe('FORBIDDEN');
    expect(await audit({ actor: op.id })).toEqual([]);

    // The same idempotency key again, one after the other and several at once: one command, one entry.
    const key = unique('idem');
    const input = { endpointId: fx.endpointId, commandType: 'dim', payload: { level: 5 }, idempotencyKey: key };
    const first = (await gqlData(app, InvokeWithKey, { input }, as)).invokeCommand.id;
    const again = await Promise.all(Array.from({ length: 5 }, async () => (await gqlData(app, InvokeWithKey, { input }, as)).invokeCommand.id));
    expect(new Set([first, ...again])).toEqual(new Set([first]));
    const concurrentKey = unique('idem');
    const together = await Promise.all(
      Array.from({ length: 5 }, async () => (await gqlData(app, InvokeWithKey, { input: { ...input, idempotencyKey: concurrentKey } }, as)).invokeCommand.id),
    );
    expect(new Set(together).size).toBe(1);
    expect((await audit({ actor: op.id })).map((e) => [e.action, e.target.id])).toEqual([
      ['COMMAND_INVOKED', together[0]],
      ['COMMAND_INVOKED', first],
    ]);
  });

  it('a viewer refused leaves nothing', async () => {
    const viewer = await keyOf('VIEWER');
    expect(errorOf(await gql(app, Doc.CreateApplication, { name: unique('app') }, viewer.secret)).extensions?.code).toBe('FORBIDDEN');
    expect(await audit({ actor: viewer.id })).toEqual([]);
  });

  it('a webhook to a private target, refused (WEBHOOK_ALLOW_PRIVATE_TARGETS unset), leaves nothing', async () => {
    const admin = await keyOf('ADMIN');
    const res = await gql(app, CreateWebhook, { input: { url: 'http://127.0.0.1:9/hook', events: ['COMMAND_CREATED'], description: '' } }, admin.secret);
    expect(errorOf(res).extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'url' });
    expect(await audit({ actor: admin.id })).toEqual([]);
  });
});

describe('reading the trail', () => {
  it('needs ADMIN', async () => {
    for (const role of ['OPERATOR', 'VIEWER'] as const) {
      const key = await keyOf(role);
      expect(errorOf(await gql(app, AuditLog, {}, key.secret)).extensions?.code).toBe('FORBIDDEN');
    }
    expect(errorOf(await gql(app, AuditLog, {}, null)).extensions?.code).toBe('UNAUTHENTICATED');
  });

  it('pages newest first without gaps or repeats, and filters by action and time', async () => {
    const op = await keyOf('OPERATOR');
    const fx = await api.createEndpoint(app);
    const ids: string[] = [];
    for (let i = 0; i < 7; i++) ids.push((await gqlData(app, InvokeWithKey, { input: { endpointId: fx.endpointId, commandType: 'page' } }, op.secret)).invokeCommand.id);
    const seen: string[] = [];
    let after: string | null = null;
    let pages = 0;
    for (;;) {
      const page: ResultOf<typeof AuditLog>['auditLog'] = (await gqlData(app, AuditLog, { actor: op.id, first: 3, after })).auditLog;
      seen.push(...page.edges.map((e) => e.node.target.id));
      pages++;
      if (!page.pageInfo.hasNextPage) break;
      after = page.pageInfo.endCursor;
    }
    expect(pages).toBe(3);
    expect(seen).toEqual([...ids].reverse());

    const all = await audit({ actor: op.id });
    const middle = all[3]!.at;
    const newer = await audit({ actor: op.id, from: middle });
    const older = await audit({ actor: op.id, to: middle });
    expect(newer.length + older.length).toBe(7);
    expect(newer.every((e) => e.at >= middle) && older.every((e) => e.at < middle)).toBe(true);
    expect(await audit({ actor: op.id, action: 'COMMAND_CANCELED' })).toEqual([]);
    expect(await audit({ actor: op.id, from: new Date(Date.now() + 60_000).toISOString() })).toEqual([]);
    expect(errorOf(await gql(app, AuditLog, { after: 'bm9wZQ' })).extensions?.code).toBe('BAD_USER_INPUT');
  });
});

describe('what entries hold', () => {
  it('never a token, password or API key secret, nor their hashes', async () => {
    const admin = await keyOf('ADMIN');
    const fx = await api.createApplicationVersion(app, (await api.createApplication(app, unique('app'))).name, unique('v'));
    const given = `tok-${randomBytes(8).toString('hex')}`;
    const rotatedTo = `tok-${randomBytes(8).toString('hex')}`;
    const password = `pw-${randomBytes(8).toString('hex')}`;
    const created = (await gqlData(app, Doc.CreateEndpoint, { applicationVersion: fx.name, token: given }, admin.secret)).createEndpoint;
    const endpointId = created.endpoint.id;
    await gqlData(app, Doc.RotateEndpointToken, { endpointId, token: rotatedTo }, admin.secret);
    const generated = (await gqlData(app, Doc.RotateEndpointToken, { endpointId, token: null }, admin.secret)).rotateEndpointToken.token;
    await gqlData(app, Doc.SetEndpointCredentials, { endpointId, username: unique('user'), password }, admin.secret);
    const generatedEndpoint = (await gqlData(app, Doc.CreateEndpoint, { applicationVersion: fx.name }, admin.secret)).createEndpoint;
    const key = (await gqlData(app, Doc.CreateApiKey, { name: unique('k'), role: 'VIEWER' }, admin.secret)).createApiKey;

    const secrets = [given, rotatedTo, generated, password, generatedEndpoint.token, key.secret];
    const sha = (s: string) => createHash('sha256').update(s).digest('hex');
    const forbidden = [...secrets, ...secrets.map(sha)];
    const entries = await audit({ actor: admin.id });
    expect(actions(entries)).toEqual([
      'API_KEY_CREATED',
      'ENDPOINT_CREATED',
      'ENDPOINT_CREDENTIALS_SET',
      'ENDPOINT_TOKEN_ROTATED',
      'ENDPOINT_TOKEN_ROTATED',
      'ENDPOINT_CREATED',
    ]);
    const text = JSON.stringify(entries);
    for (const s of forbidden) expect(text).not.toContain(s);
    // And in the table itself, every column.
    const rows = await rawQuery<{ row: string }>('select a::text as row from audit_log a where actor_key_id = $1', [admin.id]);
    expect(rows).toHaveLength(6);
    for (const { row } of rows) for (const s of forbidden) expect(row).not.toContain(s);
  });

  it('a large payload as its size and hash', async () => {
    const fx = await api.createEndpoint(app);
    const payload = { blob: 'x'.repeat(20_000) };
    const c = await api.invokeCommand(app, fx.endpointId, 'upload', payload);
    const [entry] = await audit({ target: { type: 'COMMAND', id: c.id } });
    const json = JSON.stringify(payload);
    expect((entry!.input as { payload: unknown }).payload).toEqual({
      truncated: true,
      bytes: json.length,
      sha256: createHash('sha256').update(json).digest('hex'),
    });
  });

  it('a REST payload with U+0000, which jsonb cannot hold, as its size and hash: the invoke still works', async () => {
    const fx = await api.createEndpoint(app);
    const raw = '{"note": "a\\u0000b"}';
    const posted = await rest(app, 'POST', `/endpoints/${fx.endpointId}/commands/note?awaitTimeout=0`, { raw });
    expect(posted.status).toBe(202);
    const [entry] = await audit({ target: { type: 'COMMAND', id: String(posted.body.id) } });
    const json = JSON.stringify(JSON.parse(raw));
    expect((entry!.input as { payload: unknown }).payload).toEqual({ truncated: true, bytes: json.length, sha256: createHash('sha256').update(json).digest('hex') });
  });
});

describe('the table is append-only', () => {
  it('refuses UPDATE, DELETE and TRUNCATE, whoever asks', async () => {
    const fx = await api.createEndpoint(app);
    const [entry] = await audit({ target: { type: 'ENDPOINT', id: fx.endpointId } });
    for (const statement of [
      `update audit_log set action = 'ENDPOINT_REVOKED' where id = ${entry!.id}`,
      `delete from audit_log where id = ${entry!.id}`,
      'truncate audit_log',
    ]) {
      await expect(rawQuery(statement), statement).rejects.toThrow(/append-only/);
    }
    expect(await audit({ target: { type: 'ENDPOINT', id: fx.endpointId } })).toEqual([entry]);
  });
});
