// What every resolver gets: the caller and the services. Built once per request (HTTP) or per
// operation (graphql-ws, where the key came in the connection params).
import type { Services } from '../services.ts';
import type { Application, ApplicationVersion, Endpoint, Principal } from '../domain/types.ts';
import { batchLoader, type Loader } from '../lib/batch-loader.ts';

export interface GraphQLContext {
  principal: Principal | null;
  services: Services;
  /** Per-request batched lookups, so a page of 50 commands costs one query per kind, not 50. */
  endpointLoader: Loader<string, Endpoint>;
  versionLoader: Loader<string, ApplicationVersion>;
  applicationLoader: Loader<string, Application>;
  metadataLoader: Loader<string, Record<string, unknown>>;
}

export function createContext(services: Services, principal: Principal | null): GraphQLContext {
  const { registry } = services;
  return {
    principal,
    services,
    endpointLoader: batchLoader((ids) => registry.endpointsByIds(ids)),
    versionLoader: batchLoader((ids) => registry.versionsByIds(ids)),
    applicationLoader: batchLoader((ids) => registry.applicationsByIds(ids)),
    metadataLoader: batchLoader((ids) => registry.metadataByIds(ids)),
  };
}
