// The result rule of a batch of device reports: when a command is reported more than once (by
// one request or by several that share a transaction), the first report in arrival order wins.

/**
 * The first report of each command id, in arrival order; later reports of the same id are
 * dropped. A batch must write one item per command: with two for one row, PostgreSQL's
 * UPDATE … FROM would apply either, depending on the plan. The first wins because that is what
 * happens when the reports come one at a time (a result for an EXECUTED command changes nothing),
 * so batching does not change which result a command keeps.
 */
export function firstReportWins<R extends { readonly id: number }>(reports: Iterable<R>): R[] {
  const reported = new Set<number>();
  const winners: R[] = [];
  for (const report of reports) {
    if (reported.has(report.id)) continue;
    reported.add(report.id);
    winners.push(report);
  }
  return winners;
}
