/**
 * What the sessions list says about a device: its browser and operating system, coarse on purpose
 * (no versions, no models), so it cannot serve as a fingerprint. The gateway reads them from the
 * User-Agent (which it never forwards) and sends auth the label below; auth stores the label and
 * answers the parts, so a client can word them in its own language.
 */
export const DEVICE_BROWSERS = ['Edge', 'Opera', 'Samsung Internet', 'Firefox', 'Chrome', 'Safari', 'curl', 'Bot'] as const;
export const DEVICE_SYSTEMS = ['iOS', 'Android', 'ChromeOS', 'macOS', 'Windows', 'Linux'] as const;
export type DeviceBrowser = (typeof DEVICE_BROWSERS)[number];
export type DeviceSystem = (typeof DEVICE_SYSTEMS)[number];
export interface Device {
  browser: DeviceBrowser | null;
  os: DeviceSystem | null;
}

const UNKNOWN = 'Unknown device';

/** The browser and system a User-Agent names, each null when it names none we know. */
export function describeDevice(userAgent: string | undefined): Device {
  if (!userAgent) return { browser: null, os: null };
  const ua = userAgent;
  const browser: DeviceBrowser | null =
    /\bEdg(e|A|iOS)?\//.test(ua) ? 'Edge'
    : /\bOPR\/|\bOpera\b/.test(ua) ? 'Opera'
    : /\bSamsungBrowser\//.test(ua) ? 'Samsung Internet'
    : /\bFirefox\/|\bFxiOS\//.test(ua) ? 'Firefox'
    : /\bChrome\/|\bCriOS\/|\bChromium\//.test(ua) ? 'Chrome'
    : /\bSafari\//.test(ua) && /\bVersion\//.test(ua) ? 'Safari'
    : /^curl\//.test(ua) ? 'curl'
    : /\b(bot|crawler|spider)\b/i.test(ua) ? 'Bot'
    : null;
  const os: DeviceSystem | null =
    /\b(iPhone|iPad|iPod)\b/.test(ua) ? 'iOS'
    : /\bAndroid\b/.test(ua) ? 'Android'
    : /\bCrOS\b/.test(ua) ? 'ChromeOS'
    : /\bMac OS X\b|\bMacintosh\b/.test(ua) ? 'macOS'
    : /\bWindows\b/.test(ua) ? 'Windows'
    : /\bLinux\b/.test(ua) ? 'Linux'
    : null;
  return { browser, os };
}

/** The English label the gateway sends and auth stores: "Firefox on macOS", "Browser on Linux", "curl", "Unknown device". */
export function deviceLabel({ browser, os }: Device): string {
  if (browser && os) return `${browser} on ${os}`;
  if (browser) return browser;
  if (os) return `Browser on ${os}`;
  return UNKNOWN;
}

const isBrowser = (s: string | undefined): s is DeviceBrowser => (DEVICE_BROWSERS as readonly string[]).includes(s ?? '');
const isSystem = (s: string | undefined): s is DeviceSystem => (DEVICE_SYSTEMS as readonly string[]).includes(s ?? '');

/** The parts back from a label `deviceLabel` made; anything else (an older or foreign label) is unknown. */
export function parseDeviceLabel(label: string): Device {
  const m = /^(.+) on (.+)$/.exec(label);
  if (m && isSystem(m[2]) && (m[1] === 'Browser' || isBrowser(m[1]))) return { browser: isBrowser(m[1]) ? m[1] : null, os: m[2] };
  if (isBrowser(label)) return { browser: label, os: null };
  return { browser: null, os: null };
}
