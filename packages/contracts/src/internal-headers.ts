/**
 * Headers the gateway sets after computing them itself; any client-supplied `x-imlab-*` header is
 * dropped at the edge. Hashes are HMAC-SHA256 hex; raw values never leave the gateway.
 */
export const INTERNAL_HEADERS = {
  ipHash: 'x-imlab-ip-hash',
  uaHash: 'x-imlab-ua-hash',
  /** Coarse device label derived from the user agent at the edge ("Firefox on macOS"). */
  device: 'x-imlab-device',
  requestId: 'x-request-id',
} as const;
