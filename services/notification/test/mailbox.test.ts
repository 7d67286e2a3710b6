import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { captureLogs } from '@imlab/testing';
import { sentDelivery, startService, type Service } from './harness.js';

let svc: Service;
let dir: string;
const logs = captureLogs();

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'imlab-mailbox-'));
  svc = await startService('notif-mailbox', { env: { RESEND_API_KEY: '', MAILBOX_DIR: dir }, logStream: logs.stream });
});

afterAll(async () => {
  await svc?.close();
  await rm(dir, { recursive: true, force: true });
});

describe('development mailbox (no RESEND_API_KEY)', () => {
  it('writes each email as HTML and text files and logs one line naming the file, never the link (a token)', async () => {
    const key = `verify:${randomUUID()}`;
    const token = `tok_${randomUUID()}`;
    await svc.publish('email.send', { template: 'verify-email', to: 'dev@example.test', locale: 'zh', data: { link: `/verify-email?token=${token}` }, idempotencyKey: key });
    const row = await sentDelivery(svc, key);
    expect(row).toMatchObject({ provider: 'mailbox', provider_id: `mailbox:${row.id}` });

    expect((await readdir(dir)).sort()).toEqual([`${row.id}.html`, `${row.id}.txt`]);
    const html = await readFile(path.join(dir, `${row.id}.html`), 'utf8');
    const text = await readFile(path.join(dir, `${row.id}.txt`), 'utf8');
    const link = `https://app.imlab.test/verify-email?token=${token}`;
    expect(html).toContain(`href="${link}"`);
    expect(text).toContain('Subject: 请确认你的邮箱地址');
    expect(text).toContain(link);

    expect(logs.text()).not.toContain(token);
    const written = logs.lines.filter((l) => l.includes('development mailbox: email written') && l.includes(row.id));
    expect(written).toHaveLength(1);
    expect(JSON.parse(written[0]!)).toMatchObject({ subject: '请确认你的邮箱地址', file: path.resolve(dir, `${row.id}.txt`) });
    // the address is not logged
    expect(logs.text()).not.toContain('dev@example.test');
  });

  it('answers 503 on the Resend webhook when no signing secret is configured', async () => {
    const res = await svc.app.inject({ method: 'POST', url: '/v1/notifications/webhooks/resend', headers: { 'content-type': 'application/json' }, payload: '{}' });
    expect(res.statusCode).toBe(503);
    expect(res.json()).toMatchObject({ code: 'NOTIFICATION_WEBHOOK_NOT_CONFIGURED' });
  });
});
