// One parser for ISO 8601 date-times with a UTC offset (the RFC 3339 profile: date, time, offset;
// seconds and fraction optional). Callers pick how much of ISO 8601 beyond RFC 3339 they take.

export interface DateTimeOptions {
  /**
   * Also accept the variants ISO 8601 allows and RFC 3339 makes optional: `t` or a space between
   * date and time, `z`, `,` before the fraction, an offset without `:`, a fraction of any length.
   * Otherwise only `T`, `Z`, `±hh:mm` and at most 9 fraction digits.
   */
  variants: boolean;
  /**
   * Days up to 31 in any month and 24:00 roll over into the next month or day, as `new Date(text)`
   * does; otherwise impossible fields are refused.
   */
  rollOver: boolean;
}

// Groups: y m d separator H M S fraction-separator fraction zone.
const DATE_TIME =
  /^(\d{4})-(\d{2})-(\d{2})([Tt ])(\d{2}):(\d{2})(?::(\d{2})(?:([.,])(\d+))?)?([Zz]|[+-]\d{2}:?\d{2})$/;
const RFC_3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/;

/** The ECMAScript Date range: ±8.64e15 ms around the epoch. */
const MAX_DATE_MS = 8.64e15;

/** The instant, or undefined when the text is not a date-time these options accept. */
export function parseDateTime(text: string, options: DateTimeOptions): Date | undefined {
  if (!options.variants && !RFC_3339.test(text)) return undefined;
  const match = DATE_TIME.exec(text);
  if (!match) return undefined;
  const [, y, mo, d, , h, mi, s = '0', , fraction = '', zone = 'Z'] = match;
  const year = Number(y);
  const month = Number(mo);
  const day = Number(d);
  const hour = Number(h);
  const minute = Number(mi);
  const second = Number(s);
  // Beyond milliseconds a fraction is cut, as Date does.
  const ms = Number(fraction.slice(0, 3).padEnd(3, '0'));
  if (month < 1 || month > 12 || day < 1 || day > (options.rollOver ? 31 : daysInMonth(year, month))) return undefined;
  const midnightAtEnd = options.rollOver && hour === 24 && minute === 0 && second === 0 && /^0*$/.test(fraction);
  // Second 60 (a leap second) cannot be represented by Date, so it is refused.
  if ((hour > 23 && !midnightAtEnd) || minute > 59 || second > 59) return undefined;
  let offsetMinutes = 0;
  if (zone !== 'Z' && zone !== 'z') {
    const digits = zone.replace(':', '');
    const offsetHours = Number(digits.slice(1, 3));
    const offsetMins = Number(digits.slice(3, 5));
    if (offsetHours > 23 || offsetMins > 59) return undefined;
    offsetMinutes = (zone.startsWith('-') ? -1 : 1) * (offsetHours * 60 + offsetMins);
  }
  // setUTCFullYear, not Date.UTC, which reads years 0–99 as 1900–1999. Both roll over.
  const date = new Date(0);
  date.setUTCFullYear(year, month - 1, day);
  date.setUTCHours(hour, minute, second, ms);
  const time = date.getTime() - offsetMinutes * 60_000;
  return Number.isNaN(time) || Math.abs(time) > MAX_DATE_MS ? undefined : new Date(time);
}

function daysInMonth(year: number, month: number): number {
  if (month === 2) return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0 ? 29 : 28;
  return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31;
}
