import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { v7 as uuidv7 } from 'uuid';
import { startHarness, type Body, type Harness } from './support/harness.js';
import { generationDailyCounts } from '../src/daily/daily.js';

let h: Harness;
const owner = uuidv7();
const moderatorId = uuidv7();
const readers: [string, string, string] = [uuidv7(), uuidv7(), uuidv7()];
let images: Body[];
const ip = (n: number) => n.toString(16).padStart(64, '0');

async function asModerator(method: string, path: string, body?: unknown, roles = ['user', 'moderator']) {
  const token = await h.issuer.sign({ sub: moderatorId, roles, aud: 'generation' });
  return h.api(method, path, { headers: { authorization: `Bearer ${token}` }, ...(body === undefined ? {} : { body }) });
}
const report = (imageId: string, opts: { user?: string; ipHash?: string; reason?: string; note?: string } = {}) =>
  h.api('POST', `/v1/images/${imageId}/reports`, {
    ...(opts.user ? { user: opts.user } : {}),
    headers: { 'x-imlab-ip-hash': opts.ipHash ?? ip(1) },
    body: { reason: opts.reason ?? 'violence', ...(opts.note ? { note: opts.note } : {}) },
  });
const inGallery = async () => ((await h.api('GET', '/v1/gallery?limit=100')).body.items as Body[]).map((i) => i.id);
const outbox = async (name: string) => (await h.ctx.db.selectFrom('outbox').select(['payload']).where('name', '=', name).execute()).map((r) => r.payload as Body);

beforeAll(async () => {
  h = await startHarness('moderation', { REPORT_HIDE_THRESHOLD: '3', REPORT_RATE_LIMIT: '5' });
  await h.startWorker();
  h.ledger.grant(owner, 50);
  const created = await h.api('POST', '/v1/generations', { user: owner, body: { prompt: 'a quiet harbour', count: 3, size: '512x512', seed: 1 } });
  images = (await h.waitFor(owner, created.body.id, ['succeeded'])).images;
  for (const img of images) expect((await h.api('POST', `/v1/images/${img.id}/publish`, { user: owner })).status).toBe(200);
});
afterAll(async () => h?.close());

describe('POST /v1/images/{id}/reports', () => {
  it('takes a report from anyone, once per person, and hides the image from the gallery at the threshold', async () => {
    const img = images[0];
    expect(await report(img.id, { user: readers[0], note: 'gore' })).toMatchObject({ status: 202, body: { id: img.id, received: true } });
    // the same person again, even from elsewhere: refused, nothing added
    expect((await report(img.id, { user: readers[0], ipHash: ip(2) })).body).toMatchObject({ status: 409, code: 'IMAGE_ALREADY_REPORTED' });
    // signed out: once per hashed address
    expect((await report(img.id, { ipHash: ip(3) })).status).toBe(202);
    expect((await report(img.id, { ipHash: ip(3) })).body.code).toBe('IMAGE_ALREADY_REPORTED');
    expect(await inGallery()).toContain(img.id);
    // the third distinct reporter hides it: out of the gallery and no longer public, still the owner's
    expect((await report(img.id, { user: readers[1], ipHash: ip(4), reason: 'hate' })).status).toBe(202);
    expect(await inGallery()).not.toContain(img.id);
    expect((await h.api('GET', img.url)).status).toBe(404);
    expect((await h.api('GET', img.url, { user: owner })).status).toBe(200);
    // reports never name their reporter
    const rows = await h.ctx.db.selectFrom('image_reports').select('reporter_key').where('image_id', '=', img.id).execute();
    expect(rows.map((r) => r.reporter_key).sort()).toEqual([`a:${ip(3)}`, `u:${readers[0]}`, `u:${readers[1]}`].sort());
  });

  it('refuses a reason off the list, an unpublished or unknown image, and too many reports from one address', async () => {
    expect((await report(images[1].id, { reason: 'ugly', ipHash: ip(9) })).body).toMatchObject({ status: 400, code: 'VALIDATION_FAILED' });
    expect((await report(uuidv7(), { ipHash: ip(9) })).body).toMatchObject({ status: 404, code: 'IMAGE_NOT_FOUND' });
    await h.api('DELETE', `/v1/images/${images[2].id}/publish`, { user: owner });
    expect((await report(images[2].id, { ipHash: ip(9) })).body.code).toBe('IMAGE_NOT_FOUND');
    await h.api('POST', `/v1/images/${images[2].id}/publish`, { user: owner });
    // the budget (5): the two refusals above (a 400 never reaches the service) and three more; the next is refused with Retry-After
    for (let i = 0; i < 3; i++) await report(images[1].id, { user: uuidv7(), ipHash: ip(9) });
    const limited = await report(images[1].id, { user: uuidv7(), ipHash: ip(9) });
    expect(limited.body).toMatchObject({ status: 429, code: 'IMAGE_REPORT_RATE_LIMITED' });
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
  });
});

describe('/v1/admin/moderation', () => {
  it('is for moderators and admins only', async () => {
    expect((await h.api('GET', '/v1/admin/moderation/images', { user: readers[0] })).body).toMatchObject({ status: 403, code: 'FORBIDDEN' });
    expect((await h.api('GET', '/v1/admin/moderation/images')).status).toBe(401);
    expect((await asModerator('GET', '/v1/admin/moderation/images', undefined, ['user', 'admin'])).status).toBe(200);
  });

  it('lists reported images with their reports, without naming reporters; moderators may view hidden ones', async () => {
    const q = await asModerator('GET', '/v1/admin/moderation/images');
    expect(q.status).toBe(200);
    const item = q.body.items.find((i: Body) => i.imageId === images[0].id);
    expect(item).toMatchObject({ ownerId: owner, state: 'hidden', openReports: 3 });
    expect(item.reports.map((r: Body) => r.reason).sort()).toEqual(['hate', 'violence', 'violence']);
    expect(item.reports.find((r: Body) => r.note === 'gore')).toBeTruthy();
    for (const r of readers) expect(JSON.stringify(q.body)).not.toContain(r);
    expect(JSON.stringify(q.body)).not.toContain(ip(3));
    const token = await h.issuer.sign({ sub: moderatorId, roles: ['user', 'moderator'], aud: 'generation' });
    expect((await h.api('GET', images[0].url, { headers: { authorization: `Bearer ${token}` } })).status).toBe(200);
    // paging
    const first = await asModerator('GET', '/v1/admin/moderation/images?limit=1');
    expect(first.body.items).toHaveLength(1);
    const next = await asModerator('GET', `/v1/admin/moderation/images?limit=1&cursor=${first.body.nextCursor}`);
    expect(next.body.items[0].imageId).not.toBe(first.body.items[0].imageId);
    expect((await asModerator('GET', '/v1/admin/moderation/images?cursor=zzz')).body.code).toBe('INVALID_CURSOR');
  });

  it('takes an image down: unpublished, not publishable, owner emailed with the rule, audited; then restores it', async () => {
    const img = images[0];
    expect((await asModerator('POST', `/v1/admin/moderation/images/${img.id}/takedown`, { rule: 'violence' })).body).toMatchObject({ status: 400, code: 'VALIDATION_FAILED' });
    const down = await asModerator('POST', `/v1/admin/moderation/images/${img.id}/takedown`, { rule: 'violence', reason: 'graphic gore, three reports' });
    expect(down.status).toBe(200);
    expect(down.body).toMatchObject({ id: img.id, state: 'taken-down' });
    expect((await asModerator('POST', `/v1/admin/moderation/images/${img.id}/takedown`, { rule: 'violence', reason: 'again' })).body).toMatchObject({ status: 409, code: 'MODERATION_NOT_APPLICABLE' });
    expect(await inGallery()).not.toContain(img.id);
    expect((await h.api('POST', `/v1/images/${img.id}/publish`, { user: owner })).body).toMatchObject({ status: 403, code: 'IMAGE_TAKEN_DOWN' });
    const emails = await outbox('email.send');
    expect(emails).toContainEqual(expect.objectContaining({ template: 'image-taken-down', userId: owner, data: expect.objectContaining({ rule: 'violence' }) }));
    const audits = await outbox('audit.record');
    expect(audits).toContainEqual(
      expect.objectContaining({ id: down.body.auditId, actorId: moderatorId, action: 'image.taken-down', targetUserId: owner, targetIds: { image: img.id }, reason: 'graphic gore, three reports' }),
    );
    // its reports are closed; it waits under taken-down
    expect((await asModerator('GET', '/v1/admin/moderation/images')).body.items.map((i: Body) => i.imageId)).not.toContain(img.id);
    const taken = await asModerator('GET', '/v1/admin/moderation/images?status=taken-down');
    expect(taken.body.items[0]).toMatchObject({ imageId: img.id, state: 'taken-down', takedownRule: 'violence', openReports: 0 });

    const back = await asModerator('POST', `/v1/admin/moderation/images/${img.id}/restore`, { reason: 'appeal upheld: it is a painting' });
    expect(back.body).toMatchObject({ id: img.id, state: 'published' });
    expect(await inGallery()).toContain(img.id);
    expect((await asModerator('POST', `/v1/admin/moderation/images/${img.id}/restore`, { reason: 'again!' })).body.code).toBe('MODERATION_NOT_APPLICABLE');
    expect((await outbox('audit.record')).map((a) => a.action)).toEqual(expect.arrayContaining(['image.taken-down', 'image.restored']));
  });

  it('dismisses unfounded reports: the hidden image returns to the gallery', async () => {
    const img = images[2];
    for (let i = 0; i < 3; i++) expect((await report(img.id, { user: uuidv7(), ipHash: ip(20 + i) })).status).toBe(202);
    expect(await inGallery()).not.toContain(img.id);
    const r = await asModerator('POST', `/v1/admin/moderation/images/${img.id}/dismiss`, { reason: 'a harbour, nothing wrong' });
    expect(r.body).toMatchObject({ id: img.id, state: 'published' });
    expect(await inGallery()).toContain(img.id);
    expect((await asModerator('POST', `/v1/admin/moderation/images/${img.id}/dismiss`, { reason: 'nothing open' })).body.code).toBe('MODERATION_NOT_APPLICABLE');
    // a moderator cannot reach a private image nobody reported
    const created = await h.api('POST', '/v1/generations', { user: owner, body: { prompt: 'private', count: 1, size: '512x512', seed: 2 } });
    const priv = (await h.waitFor(owner, created.body.id, ['succeeded'])).images[0];
    expect((await asModerator('POST', `/v1/admin/moderation/images/${priv.id}/takedown`, { rule: 'spam', reason: 'curious' })).body.code).toBe('IMAGE_NOT_FOUND');
  });

  it('a purged reporter is no longer named by their reports, and the words they wrote in them are gone', async () => {
    await h.ctx.db.transaction().execute((tx) => h.ctx.bus.send(tx, 'user.purge', { userId: readers[0] }));
    await expect
      .poll(async () => (await h.ctx.db.selectFrom('image_reports').select('id').where('reporter_key', '=', `u:${readers[0]}`).execute()).length, { timeout: 15_000 })
      .toBe(0);
    const forgotten = await h.ctx.db.selectFrom('image_reports').select(['reporter_key', 'reason', 'note']).where('reporter_key', 'like', 'x:%').execute();
    expect(forgotten.length).toBeGreaterThan(0);
    // the report still counts for its image (its reason stays); their own words in it do not stay
    expect(forgotten.map((r) => [r.reason, r.note])).toContainEqual(['violence', null]);
    expect((await h.ctx.db.selectFrom('image_reports').select('id').where('note', '=', 'gore').execute()).length).toBe(0);
  });
});

describe('a suspended account', () => {
  it('may not create or publish (403 ACCOUNT_SUSPENDED) while auth marks it; unmarked, it may', async () => {
    const key = `${h.ctx.bus.prefix}auth:user-suspended:${owner}`;
    await h.ctx.bus.redis.set(key, '1');
    try {
      expect((await h.api('POST', '/v1/generations', { user: owner, body: { prompt: 'anything', count: 1, size: '512x512' } })).body).toMatchObject({ status: 403, code: 'ACCOUNT_SUSPENDED' });
      expect((await h.api('POST', `/v1/images/${images[1].id}/publish`, { user: owner })).body).toMatchObject({ status: 403, code: 'ACCOUNT_SUSPENDED' });
      // reading stays possible
      expect((await h.api('GET', '/v1/generations', { user: owner })).status).toBe(200);
    } finally {
      await h.ctx.bus.redis.del(key);
    }
    expect((await h.api('POST', `/v1/images/${images[1].id}/publish`, { user: owner })).status).toBe(200);
  });
});

describe('daily metrics of generation', () => {
  it('counts generations by tier and outcome, refusals by rule (the prompt is never stored) and reports by reason; small counts suppressed on the way out', async () => {
    const day = new Date().toISOString().slice(0, 10);
    // 'beheading' is a term of the terrorism rule (whatever the rule set becomes, it names a rule id)
    const refused = await h.api('POST', '/v1/generations', { user: owner, body: { prompt: 'a beheading scene', count: 1, size: '512x512' } });
    expect(refused.status).toBe(422);
    const rule = refused.body.rule as string;
    const rows = await generationDailyCounts(h.ctx.db, day, day);
    expect(rows).toContainEqual({ day, metric: 'refusals', labels: { rule }, value: 1 });
    expect(rows).toContainEqual(expect.objectContaining({ day, metric: 'generations', labels: { tier: 'imlab-standard', outcome: 'succeeded' } }));
    expect(rows.filter((r) => r.metric === 'reports').reduce((n, r) => n + (r.value ?? 0), 0)).toBe(
      Number((await h.ctx.db.selectFrom('image_reports').select((eb) => eb.fn.countAll<string>().as('n')).executeTakeFirstOrThrow()).n),
    );
    expect(JSON.stringify(await h.ctx.db.selectFrom('daily_counts').selectAll().execute())).not.toContain('beheading');
    // what leaves for auth: 1–4 become null
    const token = await h.issuer.signService('generation');
    const internal = await fetch(`${h.url}/internal/metrics/daily?from=${day}&to=${day}`, { headers: { 'x-imlab-internal-token': token } });
    expect(internal.status).toBe(200);
    const out = (await internal.json()) as Body[];
    expect(out).toContainEqual({ day, service: 'generation', metric: 'refusals', labels: { rule }, value: null });
    expect((await fetch(`${h.url}/internal/metrics/daily?from=${day}&to=${day}`, { headers: { authorization: `Bearer ${await h.token(owner)}` } })).status).toBe(403);
  });
});
