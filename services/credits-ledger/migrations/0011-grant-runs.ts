import { sql, type Kysely } from 'kysely';

/**
 * ledger_post_grants: a run of grants in one call (#22). With group commit the inbox applies up to
 * 64 commands in one transaction; each grant was still one call of ledger_post_grant, so a group of
 * grants cost the service and its backend one round trip per grant, and the account and transfer
 * statements' totals triggers (0010) ran once per grant. Here a run costs one call, with one
 * statement per table.
 *
 * The grants come as a jsonb array, in the order the inbox applies them. For each, the same
 * effect as ledger_post_grant, plus the purchase's value (what setPostingValue wrote after):
 * - the purge lock of each person, shared, taken in one order (as ledger_post_grant takes it);
 * - then the keys, as ledger_post_grant takes its key before the account: the first grant of each
 *   idempotency key, of a person with accounts, takes the key (in array order; a later grant of the
 *   same key, or one whose key was taken before, posts nothing);
 * - then the available accounts of the grants that posted, locked in id order, so two runs (two
 *   replicas) never wait on each other in opposite orders;
 * - each account credited once with the sum of its grants; one transfer and (when given) one
 *   outbox event per posted grant, in array order.
 * It answers per grant, in order: the posting id (null when it posted nothing) and whether the
 * person has accounts. The caller handles the grants that posted nothing one by one, as before.
 *
 * Frozen: never edit once shipped, add a new migration.
 */
/** The grants of the call's argument, one row each, `ord` their place (1-based); and the people's available accounts. */
const GRANTS = `
      g as (
        select n::int as ord, e->>'key' as key, e->>'requestHash' as request_hash, (e->>'userId')::uuid as user_id,
          (e->>'amount')::int8 as amount, (e->>'debit')::uuid as debit, e->>'kind' as kind, e->>'reference' as reference,
          e->'result' as result, (e->>'valueAmount')::int8 as value_amount, e->>'valueCurrency' as value_currency,
          (e->>'eventId')::uuid as event_id, e->>'eventName' as event_name, e->'eventPayload' as event_payload,
          case when jsonb_typeof(e->'eventTargets') = 'array' then array(select jsonb_array_elements_text(e->'eventTargets')) end as event_targets
        from jsonb_array_elements(p_grants) with ordinality as x(e, n)
      ),
      acc as (
        select a.owner_id as user_id, a.id from accounts a
        where a.type = 'available' and a.owner_id in (select g.user_id from g)
      )`;

export async function up(db: Kysely<unknown>): Promise<void> {
  await sql
    .raw(
      `
    create function ledger_post_grants(p_grants jsonb)
    returns table (ord int, posted_id bigint, has_account boolean)
    language plpgsql as $$
    declare
      v_ords int[];
      v_ids bigint[];
    begin
      -- Waits for a purge under way of any of these people (it holds the lock exclusively).
      perform pg_advisory_xact_lock_shared(hashtextextended('imlab-purge:' || u::text, 0))
      from (select distinct (e->>'userId')::uuid as u from jsonb_array_elements(p_grants) e order by 1) people;
      -- The keys first, as ledger_post_grant takes its key before it credits the account: the first
      -- grant of each key among people with accounts, in the run's order.
      with ${GRANTS},
      firsts as (
        select distinct on (g.key) g.* from g join acc using (user_id) order by g.key, g.ord
      ),
      taken as (
        insert into postings (idempotency_key, request_hash, kind, subject_id, result, value_amount, value_currency)
        select f.key, f.request_hash, 'grant', acc.id, f.result, f.value_amount, f.value_currency
        from firsts f join acc using (user_id) order by f.ord
        on conflict (idempotency_key) do nothing
        returning id, idempotency_key
      )
      select array_agg(f.ord order by f.ord), array_agg(t.id order by f.ord) into v_ords, v_ids
      from firsts f join taken t on t.idempotency_key = f.key;
      if v_ords is null then
        return query select x.n::int, null::bigint, exists (
          select 1 from accounts a where a.type = 'available' and a.owner_id = (x.e->>'userId')::uuid)
        from jsonb_array_elements(p_grants) with ordinality as x(e, n) order by x.n;
        return;
      end if;
      -- Then the accounts of the grants that posted, locked in id order: two runs never wait on
      -- each other's accounts in opposite orders (a statement would lock them in its plan's order).
      perform 1 from (
        select a.id from accounts a
        where a.type = 'available' and a.owner_id in (select (p_grants->(o - 1)->>'userId')::uuid from unnest(v_ords) o)
        order by a.id for update
      ) locked;
      return query
      with ${GRANTS},
      posted as (
        select g.*, acc.id as available, x.posting_id
        from unnest(v_ords, v_ids) as x(ord, posting_id) join g on g.ord = x.ord join acc using (user_id)
      ),
      credited as (
        update accounts a set balance = a.balance + s.total
        from (select p.available, sum(p.amount) as total from posted p group by p.available) s
        where a.id = s.available
        returning a.id
      ),
      moved as (
        insert into transfers (debit_account_id, credit_account_id, amount, kind, subject_id, posting_id, reference)
        select p.debit, p.available, p.amount, p.kind, p.available, p.posting_id, p.reference from posted p order by p.ord
        returning 1
      ),
      sent as (
        insert into outbox (id, name, payload, targets)
        select p.event_id, p.event_name, p.event_payload, p.event_targets from posted p where p.event_id is not null order by p.ord
        returning 1
      )
      select g.ord, p.posting_id, exists (select 1 from acc where acc.user_id = g.user_id)
      from g left join posted p on p.ord = g.ord
      order by g.ord;
    end $$`,
    )
    .execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`drop function ledger_post_grants`.execute(db);
}
