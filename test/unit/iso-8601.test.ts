import { describe, expect, it } from 'vitest';
import { parseDateTime } from '../../src/lib/iso-8601.ts';

const KP1 = { variants: true, rollOver: false };
const GRAPHQL = { variants: false, rollOver: true };
// What the GraphQL DateTime scalar accepted before it used this parser: a pattern, then Date.
const SCALAR_PATTERN = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/;
function viaDate(text: string): number | undefined {
  if (!SCALAR_PATTERN.test(text)) return undefined;
  const time = new Date(text).getTime();
  return Number.isNaN(time) ? undefined : time;
}

describe('parseDateTime', () => {
  it('reads RFC 3339 date-times in every profile', () => {
    for (const options of [KP1, GRAPHQL]) {
      expect(parseDateTime('2024-05-01T12:00:00Z', options)?.toISOString()).toBe('2024-05-01T12:00:00.000Z');
      expect(parseDateTime('2024-05-01T14:30:15.1239+02:30', options)?.toISOString()).toBe('2024-05-01T12:00:15.123Z');
      expect(parseDateTime('0001-01-01T00:00Z', options)?.getUTCFullYear()).toBe(1);
      expect(parseDateTime('2024-05-01', options)).toBeUndefined();
      expect(parseDateTime('2024-05-01T12:00:00', options)).toBeUndefined();
      expect(parseDateTime('2024-05-01T12:00:60Z', options)).toBeUndefined();
      expect(parseDateTime('2024-05-01T12:00+24:00', options)).toBeUndefined();
    }
  });

  it('takes the ISO 8601 variants only when asked', () => {
    for (const text of ['2024-05-01t12:00z', '2024-05-01 12:00Z', '2024-05-01T12:00:00,5Z', '2024-05-01T14:00+0200', '2024-05-01T12:00:00.1234567891Z']) {
      expect(parseDateTime(text, KP1), text).toBeInstanceOf(Date);
      expect(parseDateTime(text, GRAPHQL), text).toBeUndefined();
    }
  });

  it('refuses impossible days and 24:00 unless they roll over', () => {
    expect(parseDateTime('2024-02-30T00:00Z', KP1)).toBeUndefined();
    expect(parseDateTime('2024-01-01T24:00Z', KP1)).toBeUndefined();
    expect(parseDateTime('2024-02-30T00:00Z', GRAPHQL)?.toISOString()).toBe('2024-03-01T00:00:00.000Z');
    expect(parseDateTime('2024-01-01T24:00Z', GRAPHQL)?.toISOString()).toBe('2024-01-02T00:00:00.000Z');
    expect(parseDateTime('2024-01-01T24:00:00.001Z', GRAPHQL)).toBeUndefined();
    expect(parseDateTime('2024-01-32T00:00Z', GRAPHQL)).toBeUndefined();
  });

  it('with rollOver and no variants, accepts exactly what the pattern plus new Date() accepted', () => {
    const pick = (values: string[]) => values[Math.floor(Math.random() * values.length)]!;
    const two = (n: number) => String(n).padStart(2, '0');
    const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => two(from + i));
    for (let i = 0; i < 20_000; i++) {
      const text =
        `${pick(['0000', '0099', '1900', '1970', '2000', '2023', '2024', '9999'])}-${pick(range(0, 13))}-${pick(range(0, 32))}` +
        `${pick(['T', 't', ' '])}${pick(range(0, 25))}:${pick(range(58, 60).concat(['00', '30']))}` +
        pick(['', ':00', ':59', ':60', ':00.0', ':00.0001', ':59.999999999', ':00.1234567890']) +
        pick(['Z', 'z', '+00:00', '-00:00', '+23:59', '+24:00', '-12:60', '+0100', '+05:30']);
      expect(parseDateTime(text, GRAPHQL)?.getTime(), text).toBe(viaDate(text));
    }
  });
});
