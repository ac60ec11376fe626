// A page of commands with its loading, error and empty states and the pager.
import type { ReactNode } from 'react';
import type { CommandRow } from '../queries.ts';
import { Empty, ErrorBox, Loading } from '../ui/kit.tsx';
import { Pager, type Cursors } from '../ui/paging.tsx';
import { CommandTable } from './CommandTable.tsx';

export function CommandList(props: {
  error: { message: string } | undefined;
  rows: readonly CommandRow[] | undefined;
  pageInfo: { hasNextPage: boolean; endCursor?: string | null } | undefined;
  cursors: Cursors;
  showDevice?: boolean;
  empty: { title: string; text: ReactNode };
}) {
  if (props.error && !props.pageInfo) return <ErrorBox error={props.error} />;
  if (!props.rows) return <Loading />;
  if (props.rows.length === 0) return <Empty title={props.empty.title}>{props.empty.text}</Empty>;
  return (
    <>
      <div className="table-scroll">
        <CommandTable rows={props.rows} showDevice={props.showDevice} />
      </div>
      <Pager cursors={props.cursors} pageInfo={props.pageInfo} />
    </>
  );
}
