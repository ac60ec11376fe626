// Filter controls shared by the device list and the command lists.
import { useQuery } from 'urql';
import { ApplicationsQuery } from '../queries.ts';

export const STATUSES = ['PENDING', 'EXECUTED', 'EXPIRED', 'CANCELED'] as const;
export type Status = (typeof STATUSES)[number];

export function StatusFilter({ value, onChange }: { value: string; onChange: (value: string) => void }) {
  return (
    <select className="input" aria-label="Filter by status" value={value} onChange={(e) => onChange(e.target.value)}>
      <option value="">All statuses</option>
      {STATUSES.map((s) => (
        <option key={s} value={s}>
          {s[0] + s.slice(1).toLowerCase()}
        </option>
      ))}
    </select>
  );
}

/** PENDING commands the device provably got, or not yet: '' (any), 'delivered' or 'waiting'. */
export function DeliveryFilter({ value, onChange }: { value: string; onChange: (value: string) => void }) {
  return (
    <select className="input" aria-label="Filter by delivery" value={value} onChange={(e) => onChange(e.target.value)}>
      <option value="">Any delivery</option>
      <option value="delivered">Pending, delivered</option>
      <option value="waiting">Pending, not delivered</option>
    </select>
  );
}

/** The API's `delivered` argument for a DeliveryFilter value. */
export function deliveredArg(value: string): boolean | null {
  return value === 'delivered' ? true : value === 'waiting' ? false : null;
}

/** The applications, for filters; `apps` is undefined while loading. */
export function useApplications() {
  const [result] = useQuery({ query: ApplicationsQuery });
  return result.data?.applications;
}

export function ApplicationSelect(props: { apps: { id: string; name: string }[] | undefined; value: string; onChange: (value: string) => void }) {
  return (
    <select className="input" aria-label="Application" value={props.value} onChange={(e) => props.onChange(e.target.value)}>
      <option value="">All applications</option>
      {props.apps?.map((a) => (
        <option key={a.id} value={a.name}>
          {a.name}
        </option>
      ))}
    </select>
  );
}
