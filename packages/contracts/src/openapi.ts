import { Type, type SchemaOptions, type Static, type TSchema, type TUnsafe } from '@sinclair/typebox';

/**
 * Building blocks of the public API's schemas. A schema with an `$id` is a *component*: the
 * service registers it (`buildApp({ schemas })`), routes point at it with `ref()`, and its
 * OpenAPI document lists it once under `components.schemas` by that name. The gateway merges
 * every service's components into one document, so a name must mean the same thing in every
 * service that uses it (Problem) or be used by one service only.
 */

/** A `$ref` to a component, typed as the component. Options (a `description`) stay beside the `$ref`. */
export function ref<T extends TSchema>(schema: T, options: SchemaOptions = {}): TUnsafe<Static<T>> {
  if (!schema.$id) throw new Error('ref() needs a schema with an $id (a component)');
  return Type.Unsafe<Static<T>>(Type.Ref(schema.$id, options));
}

/** `schema` as a component named `$id` (for a shape defined elsewhere without one), with `options` (description, examples). */
export function asComponent<T extends TSchema>($id: string, schema: T, options: SchemaOptions = {}): T {
  return { ...schema, ...options, $id };
}

/** A string out of a fixed list, as one `enum` (a union of literals would be one `anyOf` branch per value). */
export function StringEnum<const T extends string>(values: readonly T[], options: SchemaOptions = {}): TUnsafe<T> {
  return Type.Unsafe<T>({ ...options, type: 'string', enum: [...values] });
}

/** One page of a cursor-paginated list: `{ items, nextCursor }`, `nextCursor` null on the last page. */
export function Page<T extends TSchema>($id: string, item: T, options: SchemaOptions = {}) {
  return Type.Object(
    {
      items: Type.Array(item),
      nextCursor: Type.Union([Type.String(), Type.Null()], { description: 'Pass as `cursor` for the next page; null on the last page.' }),
    },
    { description: `One page of a list, newest first.`, ...options, $id },
  );
}

/** The public API's areas: every operation carries exactly one of these tags. */
/**
 * The `Idempotency-Key` request header of the operations that make something once (a generation, a
 * checkout, a goodwill grant): printable ASCII, as the IETF draft and Stripe use it.
 */
export function IdempotencyKey(description: string) {
  return Type.String({ minLength: 1, maxLength: 200, pattern: '^[\\x21-\\x7E]+$', description });
}

export const API_TAGS = [
  { name: 'auth', description: 'Sign-up, email verification, sign-in (password or Google), sign-out and password reset. Sign-in sets the session cookie, `__Host-imlab_sid` (`imlab_sid` on a development server over plain http).' },
  { name: 'account', description: 'The signed-in person: profile, active sessions, data export and account deletion.' },
  { name: 'credits', description: "The signed-in person's credit balance and credit history." },
  { name: 'uploads', description: 'Reference images for generations, sent as the raw image bytes.' },
  { name: 'generations', description: 'Pricing, creating, following (Server-Sent Events) and cancelling image generations.' },
  { name: 'images', description: 'Generated images: the files, publishing to the gallery, deletion.' },
  { name: 'gallery', description: 'Published images, public.' },
  { name: 'billing', description: 'Credit packs, prices, Stripe Checkout and orders.' },
  { name: 'finance', description: 'Ledger audit and payment reconciliation, for the `finance` and `admin` roles.' },
  { name: 'operations', description: 'What ops watches: account deletions not finished everywhere. For the `ops` and `admin` roles.' },
  { name: 'moderation', description: 'Reporting gallery images (anyone) and reviewing reports: dismiss, take down, restore (the `moderator` and `admin` roles).' },
  { name: 'back-office', description: 'Support and safety for the `admin` role (some for `moderator`): the audit log of every back-office action.' },
  { name: 'webhooks', description: 'Calls from providers (Stripe, Resend), authenticated by their signature over the raw body.' },
] as const;
export type ApiTag = (typeof API_TAGS)[number]['name'];
