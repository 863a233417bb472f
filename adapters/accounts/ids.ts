/**
 * userIds follow upstream cim: a millisecond clock value (≈1.7e12), which the upstream client
 * sends as a JSON number. Two registrations in the same millisecond get consecutive ids.
 */
export function nextUserId(last: number, now = Date.now()): number {
  return now > last ? now : last + 1
}
