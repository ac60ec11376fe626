// Reading a REST request: its JSON body (with a size limit and the content types Kaa accepts)
// and its query parameters (Spring binds both `a=x&a=y` and `a=x,y` to a list; so do we).
import type { IncomingMessage } from 'node:http';
import { RestError } from './errors.ts';

const JSON_TYPE = /^application\/([a-z0-9.+-]+\+)?json\s*(;|$)/i;
const TEXT_TYPE = /^text\/plain\s*(;|$)/i;

/**
 * The body as a JSON value: parsed for application/json; for text/plain the text itself, as Kaa
 * documents ('In case "text/plain" is specified, no specific validation logic is applied.');
 * null when there is no body at all.
 */
export async function readJsonBody(req: IncomingMessage, limit: number): Promise<unknown> {
  const text = (await readText(req, limit)).toString('utf8');
  const type = req.headers['content-type'] ?? '';
  if (text === '' && (type === '' || JSON_TYPE.test(type))) return null;
  if (TEXT_TYPE.test(type)) return text;
  if (!JSON_TYPE.test(type)) {
    throw new RestError(415, `Send the body as application/json (or text/plain for a text payload), not "${type || 'no Content-Type'}".`);
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new RestError(400, `The body is not valid JSON: ${(error as Error).message}`);
  }
}

async function readText(req: IncomingMessage, limit: number): Promise<Buffer> {
  const tooLarge = () =>
    // The unread rest would otherwise be parsed as the next request on this connection.
    new RestError(413, `The request body is over the limit of ${limit} bytes.`, { connection: 'close' });
  if (Number(req.headers['content-length'] ?? 0) > limit) throw tooLarge();
  const parts: Buffer[] = [];
  let total = 0;
  // Not destroyed on a refusal: the 413 must still reach the client over this socket.
  for await (const part of req.iterator({ destroyOnReturn: false }) as AsyncIterable<Buffer>) {
    total += part.length;
    if (total > limit) throw tooLarge();
    parts.push(part);
  }
  return Buffer.concat(parts);
}

/** Query parameters by name, lists split on commas. */
export class Query {
  private readonly params: URLSearchParams;

  constructor(search: string) {
    this.params = new URLSearchParams(search);
  }

  string(name: string): string | undefined {
    const value = this.params.get(name);
    return value === null || value === '' ? undefined : value;
  }

  list(name: string): string[] | undefined {
    const values = this.params.getAll(name).flatMap((v) => v.split(',')).map((v) => v.trim()).filter(Boolean);
    return values.length > 0 ? values : undefined;
  }

  /** A whole number from `min` to `max`, or `fallback` when absent. */
  integer(name: string, fallback: number, min: number, max: number, unit = ''): number {
    const raw = this.string(name);
    if (raw === undefined) return fallback;
    const n = Number(raw);
    if (!/^-?\d+$/.test(raw) || n < min || n > max) {
      throw new RestError(400, `Invalid '${name}': it must be a whole number${unit} from ${min} to ${max}, got "${raw}".`);
    }
    return n;
  }
}
