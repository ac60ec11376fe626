// Names that appear in kp1 topics and paths: endpoint tokens, command types, application and
// application version names. Operators create them through the registry and the command service,
// devices send them in every request; one rule each, so nothing is handed out that the kp1
// grammar would refuse. Lengths are in UTF-16 code units (what JavaScript and GraphQL count).
import { badInput } from './errors.ts';

const MAX_TOKEN_LENGTH = 128;
const MAX_COMMAND_TYPE_LENGTH = 128;
const MAX_NAME_LENGTH = 64;

// kp1.md §1: tokens never contain `+ # / .` (MQTT wildcards, topic separator). Whitespace and
// control characters (C0, DEL and C1) are refused too: they cannot be typed in a topic reliably
// and MQTT forbids U+0000 [MQTT-1.5.3-2]. So is a lone surrogate (\p{Cs}): it has no UTF-8 form,
// so no MQTT topic [MQTT-1.5.3-1] or percent-encoded path can carry it.
const TOKEN = /^[^\s+#/.\p{Cc}\p{Cs}]+$/u;
// kp1.md §1; 11/CEP "non-empty alpha-numeric", widened to Kaa's `-`/`_` examples.
const COMMAND_TYPE = /^[A-Za-z0-9_-]+$/;
// Application version names appear in kp1 topics; application names follow the same rule.
const NAME = /^[a-z0-9_-]+$/;

export const TOKEN_RULE = `1 to ${MAX_TOKEN_LENGTH} characters without "+", "#", "/", ".", whitespace or control characters`;
export const COMMAND_TYPE_RULE = `1 to ${MAX_COMMAND_TYPE_LENGTH} characters from A-Z, a-z, 0-9, "_" and "-"`;
export const NAME_RULE = `1 to ${MAX_NAME_LENGTH} characters from a-z, 0-9, "_" and "-"`;

/** An endpoint token a device can present. */
export function isValidToken(token: string): boolean {
  return token.length <= MAX_TOKEN_LENGTH && TOKEN.test(token);
}

export function isValidCommandType(type: string): boolean {
  return type.length <= MAX_COMMAND_TYPE_LENGTH && COMMAND_TYPE.test(type);
}

/** An application or application version name. */
export function isValidName(name: string): boolean {
  return name.length <= MAX_NAME_LENGTH && NAME.test(name);
}

export function checkToken(token: string): string {
  if (!isValidToken(token)) throw badInput(`An endpoint token must be ${TOKEN_RULE}.`, { field: 'token' });
  return token;
}

export function checkCommandType(type: string): string {
  if (!isValidCommandType(type)) {
    throw badInput(`Command type "${type}" is invalid: use ${COMMAND_TYPE_RULE}.`, { field: 'commandType' });
  }
  return type;
}

/** `kind` names the thing in the message: "Application", "Application version". */
export function checkName(kind: string, name: string): string {
  if (!isValidName(name)) throw badInput(`${kind} name "${name}" is invalid: use ${NAME_RULE}.`);
  return name;
}
