// What every resolver gets: the caller and the services. Built once per request (HTTP) or per
// operation (graphql-ws, where the key came in the connection params).
import type { Services } from '../services.ts';
import type { Endpoint, Principal } from '../domain/types.ts';

export interface GraphQLContext {
  principal: Principal | null;
  services: Services;
  /** Per-request memo of endpoint lookups, so a page of commands loads its endpoint once. */
  endpointLoader: (id: string) => Promise<Endpoint | null>;
}

export function createContext(services: Services, principal: Principal | null): GraphQLContext {
  const endpoints = new Map<string, Promise<Endpoint | null>>();
  return {
    principal,
    services,
    endpointLoader(id) {
      let found = endpoints.get(id);
      if (!found) {
        found = services.registry.endpointById(id);
        endpoints.set(id, found);
      }
      return found;
    },
  };
}
