// The command schema service: schemas per application version and command type, stored and
// authorized (the pure rules are in ./command-schema/). Each change is a new immutable version;
// commands record the version their payload was checked against. Compiled validators are cached
// per version and compiled ahead of use: at start for every current schema, and in every process
// when one is set (an event), so invoking a command never compiles (docs/command-schemas.md,
// "Compiling").
import type { EventBus } from '../events/bus.ts';
import type { Logger } from '../logger.ts';
import type { Db } from '../storage/db.ts';
import * as store from '../storage/command-schema-store.ts';
import type { StoredCommandSchema } from '../storage/command-schema-store.ts';
import { authorize } from './auth.ts';
import type { PayloadComposer } from './commands.ts';
import { checkCommandType } from './identifiers.ts';
import {
  CommandSchemaCache,
  compileCommandSchema,
  composePayload,
  formFields,
  type CompiledCommandSchema,
  type FormField,
} from './command-schema/index.ts';
import { badInput, notFound } from './errors.ts';
import { LookupCache } from './lookup-cache.ts';
import type { RegistryService } from './registry.ts';
import type { ApplicationVersion, Principal } from './types.ts';
import { recordAudit } from './audit.ts';
import { commandSchemaAudit } from './audit-entries.ts';
import type { ValidationIssue } from './errors.ts';

export interface CommandSchemaView {
  commandType: string;
  schema: Record<string, unknown>;
  version: number;
  updatedAt: Date;
  applicationVersionId: string;
}

export interface ValidationView {
  valid: boolean;
  payload: unknown;
  errors: ValidationIssue[];
}

export class CommandSchemaService implements PayloadComposer {
  private readonly cache = new CommandSchemaCache();
  /** The latest schema row per (application version, type): every invoke asks. */
  private readonly latest = new LookupCache<string, StoredCommandSchema | null>(2_000);

  constructor(
    private readonly db: Db,
    private readonly bus: EventBus,
    private readonly registry: RegistryService,
    private readonly log: Logger,
  ) {}

  /** Compiles every current schema, and each new one as any process stores it. */
  async start(): Promise<() => void> {
    for (const row of await store.listLatestSchemas(this.db)) this.compiled(row);
    return this.bus.on('commandSchemaChanged', ({ schemaId }) => {
      this.latest.clear();
      store
        .findSchemaById(this.db, schemaId)
        .then((row) => row && this.compiled(row))
        .catch((error: unknown) => this.log.warn({ err: error, schemaId }, 'could not precompile a command schema'));
    });
  }

  async set(actor: Principal | null, appVersionName: string, commandType: string, schema: unknown): Promise<CommandSchemaView> {
    const by = authorize(actor, 'OPERATOR');
    checkCommandType(commandType);
    const version = await this.registry.versionByName(actor, appVersionName);
    const result = compileCommandSchema(schema);
    if (!result.ok) {
      throw badInput(`The schema is not valid: ${summary(result.errors)}`, { validationErrors: result.errors });
    }
    const row = await this.append(by, version, commandType, schema as Record<string, unknown>);
    this.latest.clear();
    this.cache.prime(String(row.id), result.compiled);
    this.log.info({ applicationVersionId: version.id, commandType, version: row.version, by: actor?.keyId }, 'command schema set');
    return view(row)!;
  }

  /** Removes the schema of a type: from now on it accepts any JSON again. False if it had none. */
  async remove(actor: Principal | null, appVersionName: string, commandType: string): Promise<boolean> {
    const by = authorize(actor, 'OPERATOR');
    checkCommandType(commandType);
    const version = await this.registry.versionByName(actor, appVersionName);
    const latest = await store.findLatestSchema(this.db, version.id, commandType);
    if (!latest?.schema) return false;
    await this.append(by, version, commandType, null);
    this.latest.clear();
    this.log.info({ applicationVersionId: version.id, commandType, by: actor?.keyId }, 'command schema removed');
    return true;
  }

  /** The current schemas of an application version, by command type. */
  async current(applicationVersionId: string): Promise<CommandSchemaView[]> {
    const rows = await store.listLatestSchemas(this.db, applicationVersionId);
    return rows.map(view).filter((v): v is CommandSchemaView => v !== null);
  }

  /** Every stored version of one type's schema, newest first; removals are left out. */
  async history(applicationVersionId: string, commandType: string): Promise<CommandSchemaView[]> {
    checkCommandType(commandType);
    const rows = await store.listSchemaVersions(this.db, applicationVersionId, commandType);
    return rows.map(view).filter((v): v is CommandSchemaView => v !== null);
  }

  fields(schema: CommandSchemaView): FormField[] {
    return formFields(schema.schema);
  }

  /** validateCommand: the composed payload or every violation, creating nothing. */
  async validate(actor: Principal | null, endpointId: string, commandType: string, payload: unknown): Promise<ValidationView> {
    authorize(actor, 'VIEWER');
    checkCommandType(commandType);
    const endpoint = await this.registry.endpointById(endpointId);
    if (!endpoint) throw notFound(`No endpoint with id "${endpointId}".`);
    const { composition } = await this.composition(endpoint.applicationVersionId, commandType, payload);
    return { valid: composition.valid, payload: composition.valid ? composition.payload : null, errors: composition.errors };
  }

  /** PayloadComposer for invoke and re-run: throws BAD_USER_INPUT with every violation. */
  async compose(applicationVersionId: string, commandType: string, payload: unknown) {
    const { composition, schemaVersion } = await this.composition(applicationVersionId, commandType, payload);
    if (!composition.valid) {
      throw badInput(`The payload does not match the "${commandType}" command schema: ${summary(composition.errors)}`, {
        validationErrors: composition.errors,
      });
    }
    return { payload: composition.payload, schemaVersion };
  }

  private async composition(applicationVersionId: string, commandType: string, payload: unknown) {
    const row = await this.latest.get(`${applicationVersionId}\u0000${commandType}`, () =>
      store.findLatestSchema(this.db, applicationVersionId, commandType),
    );
    if (!row?.schema) {
      // No schema: any JSON, as in Kaa.
      return { composition: { valid: true as const, payload, errors: [] as [] }, schemaVersion: null };
    }
    return { composition: composePayload(this.compiled(row), payload), schemaVersion: row.version };
  }

  private compiled(row: StoredCommandSchema): CompiledCommandSchema | null {
    return row.schema ? this.cache.getOrCompile(String(row.id), row.schema) : null;
  }

  private async append(actor: Principal, version: ApplicationVersion, commandType: string, schema: Record<string, unknown> | null) {
    const applicationVersionId = version.id;
    return this.db.transaction(async (tx) => {
      await store.lockSchemaType(tx, applicationVersionId, commandType);
      const latest = await store.findLatestSchema(tx, applicationVersionId, commandType);
      const row = await store.insertSchemaVersion(tx, {
        applicationVersionId,
        commandType,
        version: (latest?.version ?? 0) + 1,
        schema,
      });
      await recordAudit(tx, [commandSchemaAudit(actor, version, row)]);
      await this.bus.publish(tx, 'commandSchemaChanged', { schemaId: row.id });
      return row;
    });
  }
}

function view(row: StoredCommandSchema): CommandSchemaView | null {
  if (!row.schema) return null;
  return {
    commandType: row.commandType,
    schema: row.schema,
    version: row.version,
    updatedAt: row.createdAt,
    applicationVersionId: row.applicationVersionId,
  };
}

function summary(errors: ValidationIssue[]): string {
  const shown = errors.slice(0, 3).map((e) => `${e.path || '(root)'} ${e.message}`);
  return shown.join('; ') + (errors.length > 3 ? `; and ${errors.length - 3} more (see extensions.validationErrors)` : '');
}
