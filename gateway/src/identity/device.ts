import { MEMO_MAX_KEY } from './hash.js';
/**
 * A coarse, human label for the device ("Firefox on macOS"), for the sessions list. Deliberately
 * low-entropy: no versions, no models, so it cannot serve as a fingerprint.
 */
export function deviceLabel(userAgent: string | undefined): string {
  if (!userAgent) return 'Unknown device';
  const ua = userAgent;
  const browser =
    /\bEdg(e|A|iOS)?\//.test(ua) ? 'Edge'
    : /\bOPR\/|\bOpera\b/.test(ua) ? 'Opera'
    : /\bSamsungBrowser\//.test(ua) ? 'Samsung Internet'
    : /\bFirefox\/|\bFxiOS\//.test(ua) ? 'Firefox'
    : /\bChrome\/|\bCriOS\/|\bChromium\//.test(ua) ? 'Chrome'
    : /\bSafari\//.test(ua) && /\bVersion\//.test(ua) ? 'Safari'
    : /^curl\//.test(ua) ? 'curl'
    : /\b(bot|crawler|spider)\b/i.test(ua) ? 'Bot'
    : undefined;
  const os =
    /\b(iPhone|iPad|iPod)\b/.test(ua) ? 'iOS'
    : /\bAndroid\b/.test(ua) ? 'Android'
    : /\bCrOS\b/.test(ua) ? 'ChromeOS'
    : /\bMac OS X\b|\bMacintosh\b/.test(ua) ? 'macOS'
    : /\bWindows\b/.test(ua) ? 'Windows'
    : /\bLinux\b/.test(ua) ? 'Linux'
    : undefined;
  if (browser && os) return `${browser} on ${os}`;
  if (browser) return browser;
  if (os) return `Browser on ${os}`;
  return 'Unknown device';
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
