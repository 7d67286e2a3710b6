import { describe, expect, it } from 'vitest';
import { Writable } from 'node:stream';
import { createLogger, serializers } from '../src/index.js';

function capture() {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, cb) {
      lines.push(String(chunk));
      cb();
    },
  });
  return { lines, stream };
}

describe('logger', () => {
  it('redacts secrets, cookies, authorization, raw IPs and user agents', () => {
    const { lines, stream } = capture();
    const log = createLogger({ service: 'test', destination: stream });
    log.info(
      {
        req: { headers: { authorization: 'Bearer abc.def.ghi', cookie: 'imlab_sid=s3cr3t', 'user-agent': 'DistinctUA/9.9' }, remoteAddress: '203.0.113.77' },
        user: { password: 'hunter22', token: 'tok_live_123', ip: '198.51.100.5', userAgent: 'OtherUA/1' },
      },
      'hello',
    );
    const out = lines.join('');
    for (const raw of ['abc.def.ghi', 's3cr3t', 'DistinctUA', '203.0.113.77', 'hunter22', 'tok_live_123', '198.51.100.5', 'OtherUA']) {
      expect(out).not.toContain(raw);
    }
    expect(out).toContain('hello');
  });

  it('serialises requests without address, host or query string', () => {
    const out = serializers.req({ id: 'r1', method: 'GET', url: '/v1/auth/google/callback?code=xyz&state=abc' });
    expect(out).toEqual({ id: 'r1', method: 'GET', url: '/v1/auth/google/callback?[redacted]', route: undefined });
  });
});
