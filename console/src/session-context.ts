import { createContext } from 'react';
import type { Connection } from './client.ts';
import type { Role } from './queries.ts';

export interface Session {
  connection: Connection | null;
  viewer: { id: string; name: string; role: Role } | null;
  signOut: (notice?: string) => void;
}

export const SessionContext = createContext<Session>({ connection: null, viewer: null, signOut: () => {} });

const RANK: Record<Role, number> = { VIEWER: 0, OPERATOR: 1, ADMIN: 2 };

/** Whether the signed-in key has at least `role` (buttons it cannot use are not shown). */
export function can(session: Session, role: Role): boolean {
  return session.viewer ? RANK[session.viewer.role] >= RANK[role] : false;
}
