import { describe, expect, it } from 'vitest';
import { Writable } from 'node:stream';
import { createLogger, lazyChildLogger, serializers } from '../src/index.js';

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

  it('redacts the raw bytes of an unparsable request that Node attaches to a client error', () => {
    const { lines, stream } = capture();
    const log = createLogger({ service: 'test', level: 'trace', destination: stream });
    const err = Object.assign(new Error('Parse Error: Invalid header value char'), {
      code: 'HPE_INVALID_HEADER_TOKEN',
      rawPacket: Buffer.from('GET / HTTP/1.1\r\nUser-Agent: RawPacketUA/1\r\nCookie: imlab_sid=RAWPACKETSID\r\nX-Forwarded-For: 203.0.113.91\r\n\r\n'),
    });
    log.trace({ err }, 'client error');
    log.trace({ clientError: err }, 'client error');
    const out = lines.join('');
    expect(out).toContain('HPE_INVALID_HEADER_TOKEN');
    for (const raw of ['RawPacketUA', 'RAWPACKETSID', '203.0.113.91']) expect(out).not.toContain(raw);
    // Buffers are logged as byte arrays: the decoded bytes must not be there either.
    expect(out).not.toContain(JSON.stringify([...Buffer.from('RAWPACKETSID')]).slice(1, -1));
  });

  it("redacts a Postgres error's detail, which holds the refused row's values (an address)", () => {
    const { lines, stream } = capture();
    const log = createLogger({ service: 'test', destination: stream });
    // the shape node-postgres gives a unique violation
    const err = Object.assign(new Error('duplicate key value violates unique constraint "users_email_key"'), {
      code: '23505',
      detail: 'Key (email)=(someone@example.test) already exists.',
      constraint: 'users_email_key',
    });
    log.error({ err, task: 'sign-up' }, 'background task failed');
    log.error({ err: new Error('wrapped', { cause: err }) }, 'wrapped');
    const out = lines.join('');
    expect(out).not.toContain('someone@example.test');
    expect(out).toContain('23505');
    expect(out).toContain('users_email_key');
  });

  it('serialises requests without address, host or query string', () => {
    const out = serializers.req({ id: 'r1', method: 'GET', url: '/v1/auth/google/callback?code=xyz&state=abc' });
    expect(out).toEqual({ id: 'r1', method: 'GET', url: '/v1/auth/google/callback?[redacted]', route: undefined });
  });
});

describe('lazyChildLogger', () => {
  it('writes exactly what a real child writes, bindings and redaction included', () => {
    const real = capture();
    const lazy = capture();
    const bindings = { reqId: 'req-1', token: 'tok_should_not_appear' };
    createLogger({ service: 'test', destination: real.stream, level: 'debug' }).child(bindings).warn({ ip: '203.0.113.9', n: 1 }, 'careful');
    lazyChildLogger(createLogger({ service: 'test', destination: lazy.stream, level: 'debug' }), bindings).warn({ ip: '203.0.113.9', n: 1 }, 'careful');
    const strip = (l: string) => ({ ...JSON.parse(l), time: 0, pid: 0 });
    expect(lazy.lines.map(strip)).toEqual(real.lines.map(strip));
    expect(lazy.lines.join('')).not.toContain('tok_should_not_appear');
    expect(lazy.lines.join('')).not.toContain('203.0.113.9');
    expect(strip(lazy.lines[0]!)).toMatchObject({ reqId: 'req-1', msg: 'careful', n: 1 });
  });

  it('never builds the child for lines below the level', () => {
    const { lines, stream } = capture();
    const parent = createLogger({ service: 'test', destination: stream, level: 'warn' });
    let built = 0;
    const child = parent.child.bind(parent);
    parent.child = ((...args: Parameters<typeof child>) => {
      built++;
      return child(...args);
    }) as typeof parent.child;
    const log = lazyChildLogger(parent, { reqId: 'req-2' });
    log.info('skipped');
    log.debug('skipped');
    expect(built).toBe(0);
    expect(log.isLevelEnabled('info')).toBe(false);
    log.error('kept');
    expect(built).toBe(1);
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0]!)).toMatchObject({ reqId: 'req-2', msg: 'kept' });
  });
});

describe('lazyChildLogger with a level of its own', () => {
  it('writes what the child’s level allows, not the parent’s (per-route log levels)', () => {
    const { lines, stream } = capture();
    const log = lazyChildLogger(createLogger({ service: 'test', destination: stream, level: 'warn' }), { reqId: 'req-3' }, { level: 'debug' });
    log.debug('route-level debug line');
    log.trace('still below');
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0]!)).toMatchObject({ reqId: 'req-3', msg: 'route-level debug line' });
  });
});
