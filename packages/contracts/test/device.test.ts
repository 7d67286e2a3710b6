import { describe, expect, it } from 'vitest';
import { DEVICE_BROWSERS, DEVICE_SYSTEMS, describeDevice, deviceLabel, parseDeviceLabel, type Device } from '../src/device.js';

describe('device', () => {
  it('reads the browser and system from a User-Agent, without versions', () => {
    expect(describeDevice('Mozilla/5.0 (Macintosh; Intel Mac OS X 14.5; rv:128.0) Gecko/20100101 Firefox/128.0')).toEqual({ browser: 'Firefox', os: 'macOS' });
    expect(describeDevice('Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/156.0.0.0 Safari/537.36')).toEqual({ browser: null, os: 'Linux' });
    expect(describeDevice('curl/8.5.0')).toEqual({ browser: 'curl', os: null });
    expect(describeDevice(undefined)).toEqual({ browser: null, os: null });
  });

  it('every label it makes reads back as the same parts (so auth can answer the parts of a stored label)', () => {
    const devices: Device[] = [];
    for (const browser of [...DEVICE_BROWSERS, null]) for (const os of [...DEVICE_SYSTEMS, null]) devices.push({ browser, os });
    expect(devices).toHaveLength(63);
    for (const d of devices) expect(parseDeviceLabel(deviceLabel(d))).toEqual(d);
    expect(new Set(devices.map(deviceLabel)).size).toBe(devices.length);
  });

  it('a label it did not make is an unknown device, never half-read', () => {
    for (const label of ['', 'Unknown device', 'Netscape on BeOS', 'Browser on', 'Firefox on macOS on Linux', 'Chrome on Windows 11', 'firefox on macos']) {
      expect(parseDeviceLabel(label)).toEqual({ browser: null, os: null });
    }
  });
});
