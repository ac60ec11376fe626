// Size budget: the JavaScript the first page load fetches (entry and its static imports) stays
// under 300 KB gzipped; heavy pages (forms, charts) load on demand.
import { readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const dist = join(process.cwd(), 'dist/console');

describe('console bundle', () => {
  it('loads at most 300 KB of gzipped JavaScript first, and ships .gz siblings', () => {
    const html = readFileSync(join(dist, 'index.html'), 'utf8');
    const first = [...html.matchAll(/(?:src|href)="\/(assets\/[^"]+\.js)"/g)].map((m) => m[1]!);
    expect(first.length).toBeGreaterThan(0);
    let total = 0;
    for (const file of first) {
      expect(existsSync(join(dist, `${file}.gz`)), `${file}.gz`).toBe(true);
      total += readFileSync(join(dist, `${file}.gz`)).length;
      expect(readFileSync(join(dist, file), 'utf8'), file).not.toMatch(/u-legend|ui:submitButtonOptions|rjsf/);
    }
    expect(total).toBeLessThanOrEqual(300 * 1024);
  });
});
