// The kp1 grammar's refusals, each with its exact status code and reason phrase: the device reads
// both (kp1.md §4), so a changed check that still refuses with another code, or a reason phrase
// that no longer names the offending part, is a change a device sees.
import { describe, expect, it } from 'vitest';
import { Kp1Failure } from '../../src/devices/kp1/errors.ts';
import { parseHttpPath, parseTopic } from '../../src/devices/kp1/grammar.ts';

const REFUSALS: [transport: 'mqtt' | 'http', input: string, statusCode: number, reasonPhrase: string][] = [
  ["mqtt","kp2/app/cex/tok/command/x",404,"\"kp2/app/cex/tok/command/x\" is not a kp1 resource: expected kp1/{appVersion}/{extension}/{token}/{resource}"],
  ["mqtt","kp1",404,"\"kp1\" is not a kp1 resource: expected kp1/{appVersion}/{extension}/{token}/{resource}"],
  ["mqtt","kp1/app",404,"\"kp1/app\" is not a kp1 resource: expected kp1/{appVersion}/{extension}/{token}/{resource}"],
  ["mqtt","kp1/app/cex",404,"\"kp1/app/cex\" is not a kp1 resource: expected kp1/{appVersion}/{extension}/{token}/{resource}"],
  ["mqtt","kp1//cex/tok/command/x",400,"Topic \"kp1//cex/tok/command/x\" has an empty level; kp1 levels are never empty"],
  ["mqtt","kp1/a pp/cex/tok/command/x",400,"Malformed application version name \"a pp\": expected 1 to 64 characters from a-z, 0-9, \"_\" and \"-\""],
  ["mqtt","kp1/app/xyz/tok/command/x",404,"Unknown extension \"xyz\": this server serves cex, dcx, epmx"],
  ["mqtt","kp1/app/cex/to+k/command/x",400,"Malformed endpoint token \"to+k\": expected 1 to 128 characters without \"+\", \"#\", \"/\", \".\", whitespace or control characters"],
  ["mqtt","kp1/app/cex/tok/command/x/y/05",404,"Unknown resource \"command/x/y/05\" for cex: expected command/{type}, command, result/{type}"],
  ["mqtt","kp1/app/dcx/tok/json/5a",404,"Unknown resource \"json/5a\" for dcx: expected json"],
  ["mqtt","kp1/app/cex/tok/commands/x",404,"Unknown resource \"commands/x\" for cex: expected command/{type}, command, result/{type}"],
  ["mqtt","kp1/app/cex/tok/command/a.b",400,"Bad command type \"a.b\": expected 1 to 128 characters from A-Z, a-z, 0-9, \"_\" and \"-\""],
  ["http","kp1/app/cex/tok/command/x",404,"\"kp1/app/cex/tok/command/x\" is not a kp1 path: expected /kp1/…"],
  ["http","/kp1/app/cex/t%2Fok/command/x",400,"A path level contains an encoded \"/\"; kp1 levels never contain \"/\""],
  ["http","/kp1/app/cex/tok/command/%E0%A4%A",400,"Malformed percent-encoding in path level \"%E0%A4%A\""],
  ["mqtt","kp1/app/cex/tok/command/x/12345678901",400,"Bad request id \"12345678901\": at most 10 digits"],
  ["mqtt","kp1/app/epmx/tok/get/values",404,"Unknown resource \"get/values\" for epmx: expected get/keys, get, update, update/keys, delete/keys"],
  ["http","/kp1/app/cex/tok/command/x/5/6",404,"Unknown resource \"command/x/5/6\" for cex: expected command/{type}, command, result/{type}"],
];

function refusal(transport: 'mqtt' | 'http', input: string): { statusCode: number; reasonPhrase: string } {
  try {
    if (transport === 'mqtt') parseTopic(input);
    else parseHttpPath(input);
  } catch (error) {
    if (error instanceof Kp1Failure) return error.error;
    throw error;
  }
  throw new Error(`${input} was accepted`);
}

describe('kp1 grammar refusals', () => {
  it.each(REFUSALS)('%s %j: %i %j', (transport, input, statusCode, reasonPhrase) => {
    expect(refusal(transport, input)).toEqual({ statusCode, reasonPhrase });
  });
});
