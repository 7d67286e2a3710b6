import { describeDevice, deviceLabel as label } from '@imlab/contracts';
import { MEMO_MAX_KEY } from './hash.js';

/** A coarse, human label for the device ("Firefox on macOS"), for the sessions list (see @imlab/contracts' device). */
export function deviceLabel(userAgent: string | undefined): string {
  return label(describeDevice(userAgent));
}

/** `deviceLabel` memoised (bounded): the same few user agents come back on every request. */
export function createDeviceLabeler(max = 10_000): (userAgent: string | undefined) => string {
  const cache = new Map<string, string>();
  return (ua) => {
    const key = ua ?? '';
    if (key.length > MEMO_MAX_KEY) return deviceLabel(ua);
    let label = cache.get(key);
    if (label === undefined) {
      if (cache.size >= max) cache.clear();
      label = deviceLabel(ua);
      cache.set(key, label);
    }
    return label;
  };
}
