// MQTT topic filters: matching [MQTT-4.7] and the kp1 rule that a SUBSCRIBE is pinned to one
// endpoint token [kp1 §2 Push]. Sources are cited as in ../kp1/grammar.ts.
import { isValidName, isValidToken } from '../../domain/identifiers.ts';
import { PREFIX } from '../kp1/grammar.ts';
import { isExtension, type Extension } from '../kp1/resources.ts';

/** The literal prefix a subscription filter is pinned to. */
export interface SubscriptionPin {
  appVersion: string;
  extension: Extension;
  token: string;
}

/**
 * The one endpoint token a SUBSCRIBE topic filter is pinned to, or null [kp1 §2 Push]: a
 * filter is accepted only as `kp1/{appVersion}/{cex|dcx|epmx}/{token}[/…]` with those four
 * levels literal and `+`/`#` only below the token (`kp1/app/cex/tok/#`,
 * `kp1/app/dcx/tok/json/+/status`). Everything else is null: `#`, `kp1/#`,
 * `kp1/+/cex/+/…`, `$SYS/#`, wildcards in the app version or extension, malformed filters
 * [MQTT-4.7.1-2, -3] (callers refuse them with SUBACK 0x80). The caller still checks that the
 * token is the connection's own and that the app version exists.
 */
export function subscriptionPin(filter: string): SubscriptionPin | null {
  if (!isValidFilter(filter)) return null;
  const [prefix, appVersion, extension, token] = filter.split('/');
  if (prefix !== PREFIX || appVersion === undefined || extension === undefined || token === undefined) {
    return null;
  }
  // Literal levels only: the identifier rules exclude `+` and `#` as well as malformed names.
  if (!isValidName(appVersion) || !isExtension(extension) || !isValidToken(token)) return null;
  return { appVersion, extension, token };
}

/**
 * MQTT 3.1.1 topic filter matching: `+` matches exactly one level (possibly empty), `#` matches
 * the parent level and any number of children [MQTT-4.7.1-2, -3]; a filter starting with a
 * wildcard does not match topics starting with `$` [MQTT-4.7.2-1]. An invalid filter matches
 * nothing.
 */
export function topicMatches(filter: string, topic: string): boolean {
  if (!isValidFilter(filter)) return false;
  const f = filter.split('/');
  const t = topic.split('/');
  if (topic.startsWith('$') && (f[0] === '+' || f[0] === '#')) return false;
  for (let i = 0; i < f.length; i++) {
    const level = f[i];
    if (level === '#') return true; // `a/#` also matches `a` [MQTT-4.7.1-2]
    if (i >= t.length) return false;
    if (level !== '+' && level !== t[i]) return false;
  }
  return f.length === t.length;
}

function isValidFilter(filter: string): boolean {
  if (filter === '') return false; // [MQTT-4.7.3-1] at least one character
  const levels = filter.split('/');
  return levels.every((level, i) => {
    // [MQTT-4.7.1-2] `#` alone in its level and last; [MQTT-4.7.1-3] `+` alone in its level.
    if (level === '#') return i === levels.length - 1;
    if (level === '+') return true;
    return !level.includes('#') && !level.includes('+');
  });
}
