// firstReportWins (src/domain/first-report-wins.ts): which report of a command a batch of device
// results writes. The batched path through the database is in test/devices-concurrency.test.ts.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { firstReportWins } from '../../src/domain/first-report-wins.ts';

const report = (id: number, from: string) => ({ id, from });

describe('firstReportWins', () => {
  it('keeps the first report of a command reported by two requests, and drops the later one', () => {
    const first = report(7, 'device A, request 1');
    const later = report(7, 'device A, request 2');
    expect(firstReportWins([first, report(8, 'request 1'), later])).toEqual([first, report(8, 'request 1')]);
  });

  it('keeps the first of a command listed twice in one request', () => {
    expect(firstReportWins([report(3, 'first'), report(3, 'second'), report(3, 'third')])).toEqual([report(3, 'first')]);
  });

  it('keeps every command reported once, in arrival order', () => {
    expect(firstReportWins([report(9, 'a'), report(2, 'b'), report(5, 'c')]).map((r) => r.id)).toEqual([9, 2, 5]);
    expect(firstReportWins([])).toEqual([]);
  });

  it('hands back the reports themselves, so a caller can carry who sent each', () => {
    const reports = [report(1, 'a'), report(1, 'b'), report(2, 'c')];
    const winners = firstReportWins(reports);
    expect(winners[0]).toBe(reports[0]);
    expect(winners[1]).toBe(reports[2]);
  });

  it('for any batch: one report per command, each the first one sent, in arrival order', () => {
    fc.assert(
      fc.property(fc.array(fc.record({ id: fc.integer({ min: 1, max: 8 }), n: fc.nat() }), { maxLength: 40 }), (reports) => {
        const winners = firstReportWins(reports);
        const firsts = reports.filter((r, i) => reports.findIndex((s) => s.id === r.id) === i);
        expect(winners).toEqual(firsts);
        winners.forEach((w, i) => expect(w).toBe(firsts[i]));
      }),
    );
  });
});
