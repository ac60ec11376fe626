// Keyset paging: a stack of `after` cursors, reset whenever the filters (`resetKey`) change.
import { useEffect, useState } from 'react';

export interface Cursors {
  after: string | null;
  page: number;
  firstPage: boolean;
  back(): void;
  forward(endCursor: string | null | undefined): void;
}

export function useCursors(resetKey: string): Cursors {
  const [stack, setStack] = useState<(string | null)[]>([null]);
  useEffect(() => setStack([null]), [resetKey]);
  return {
    after: stack[stack.length - 1] ?? null,
    page: stack.length,
    firstPage: stack.length === 1,
    back: () => setStack(stack.slice(0, -1)),
    forward: (endCursor) => setStack([...stack, endCursor ?? null]),
  };
}

export function Pager({ cursors, pageInfo }: { cursors: Cursors; pageInfo?: { hasNextPage: boolean; endCursor?: string | null } }) {
  const canForward = Boolean(pageInfo?.hasNextPage);
  if (cursors.firstPage && !canForward) return null;
  return (
    <div className="pager">
      <button className="button" disabled={cursors.firstPage} onClick={cursors.back}>
        ← Previous
      </button>
      <span className="muted">Page {cursors.page}</span>
      <button className="button" disabled={!canForward} onClick={() => cursors.forward(pageInfo?.endCursor)}>
        Next →
      </button>
    </div>
  );
}
