// The instants the database stores: drizzle writes a Date as Date.toISOString(), whose years
// before 0001 ("0000-…", "-000001-…") and after 9999 ("+010000-…") PostgreSQL refuses.

export const EARLIEST_STORABLE_MS = -62_135_596_800_000; // 0001-01-01T00:00:00.000Z
export const LATEST_STORABLE_MS = 253_402_300_799_999; // 9999-12-31T23:59:59.999Z

export function isStorableInstant(date: Date): boolean {
  const ms = date.getTime();
  return ms >= EARLIEST_STORABLE_MS && ms <= LATEST_STORABLE_MS;
}
