/**
 * The device push topic: where the route publishes a push to one device and what the broker
 * subscribes that device to, made from one template (config.devicePushTopic, default
 * `devices/{deviceId}/push`). Both sides must build the same string, so both build it here.
 */

const PLACEHOLDER = '{deviceId}'

/** The push topic of one device: `template` with every `{deviceId}` replaced by the id, literally. */
export function pushTopicOf(template: string, deviceId: string): string {
  // split/join rather than String#replace: a client id may contain `$&`, which replace() expands.
  return template.split(PLACEHOLDER).join(deviceId)
}

/** The part of every device's push topic before the device id (`devices/`), '' when the id comes first. */
export function pushTopicRoot(template: string): string {
  return template.split(PLACEHOLDER)[0]
}
