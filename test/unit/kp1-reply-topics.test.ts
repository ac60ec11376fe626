// Where replies go for requests the grammar refused, and where all-types pushes go: the device
// subscribes to exactly these topics (kp1.md §1, §2), so another topic is a reply it never sees.
import { describe, expect, it } from 'vitest';
import { allTypesPushTopic, endsWithRequestId } from '../../src/devices/kp1/grammar.ts';

describe('endsWithRequestId', () => {
  it.each([
    ['kp1/app/cex/tok/command/x/y/42', true],
    ['kp1/app/cex/to+k/result/reboot/7', true],
    ['42', true],
    ['kp1/app/cex/tok/result/reboot', false],
    ['kp1/app/cex/tok/result/reboot/4a', false],
    // Only the last level counts: digits before it are not a request id.
    ['kp1/42/cex/tok/result/reboot', false],
    ['kp1/app/cex/tok/9/x', false],
    ['kp1/app/cex/tok/result/42/', false],
  ])('%s → %s', (topic, expected) => {
    expect(endsWithRequestId(topic)).toBe(expected);
  });
});

describe('allTypesPushTopic', () => {
  it('is the all-types request topic plus /status', () => {
    expect(allTypesPushTopic('app-v1', 'tok-1')).toBe('kp1/app-v1/cex/tok-1/command/status');
  });
});
