import type { ColumnType, Generated, Selectable } from 'kysely';
import type { QueueTables } from '@imlab/queue';
import type { PurgeTombstoneTables } from '@imlab/db';

export type GenerationStatus = 'reserving' | 'queued' | 'running' | 'succeeded' | 'failed' | 'canceled' | 'rejected';
export const OPEN_STATUSES: GenerationStatus[] = ['reserving', 'queued', 'running'];
export const TERMINAL_STATUSES: GenerationStatus[] = ['succeeded', 'failed', 'canceled', 'rejected'];

type Timestamp = ColumnType<Date, Date | string | undefined, Date | string>;

export interface GenerationTable {
  id: string;
  user_id: string;
  status: GenerationStatus;
  prompt: string;
  negative_prompt: string | null;
  model: string;
  width: number;
  height: number;
  count: number;
  seed: number;
  reference_upload_ids: ColumnType<string[], string[] | undefined, string[]>;
  cost: number;
  idempotency_key: string | null;
  request_hash: string;
  error_code: string | null;
  shortfall: number | null;
  attempt: Generated<number>;
  lease: string | null;
  hold_expires_at: Timestamp;
  created_at: Generated<Date>;
  updated_at: Generated<Date>;
  queued_at: Date | null;
  started_at: Date | null;
  finished_at: Date | null;
  /** When its render job was put on the queue (migration 0007); null while it waits for its person's slot. */
  dispatched_at: ColumnType<Date | null, Date | null | undefined, Date | null>;
}

export interface ImageTable {
  id: string;
  generation_id: string;
  user_id: string;
  idx: number;
  width: number;
  height: number;
  bytes: number;
  sha256: string;
  storage_key: string;
  thumb_key: string;
  thumb_sha256: string;
  published_at: Date | null;
  /** Set while a deletion request keeps the image off the gallery: when it had been published. */
  withdrawn_published_at: Generated<Date | null>;
  created_at: Generated<Date>;
  /** Reported by REPORT_HIDE_THRESHOLD distinct people: out of the gallery until reviewed. */
  hidden_at: ColumnType<Date | null, Date | null | undefined, Date | null>;
  /** Taken down by a moderator (unpublished; cannot be published again until restored). */
  taken_down_at: ColumnType<Date | null, Date | null | undefined, Date | null>;
  takedown_rule: ColumnType<string | null, string | null | undefined, string | null>;
}

export interface ImageReportTable {
  id: string;
  image_id: string;
  /** `u:<user id>` or `a:<ip hash>`; `x:<report id>` once the reporter is purged. */
  reporter_key: string;
  reason: string;
  note: string | null;
  created_at: Generated<Date>;
  resolved_at: Date | null;
  resolution: 'dismissed' | 'taken-down' | null;
}

/** Per-day counts of what stores nothing itself (refused prompts, by rule). */
export interface DailyCountTable {
  day: ColumnType<Date, string, string>;
  metric: string;
  label: string;
  count: number;
}

export interface UploadTable {
  id: string;
  user_id: string;
  sha256: string;
  mime: string;
  width: number;
  height: number;
  bytes: number;
  storage_key: string;
  created_at: Generated<Date>;
  expires_at: Date | null;
}

export interface UserProfileTable {
  user_id: string;
  display_name: string;
  updated_at: Generated<Date>;
  /** occurredAt of the event the name came from: an older event never overwrites a newer one. */
  source_at: Generated<Date>;
}

/** An object whose row is gone, until storage confirms it is deleted (storage/deletions.ts). */
export interface StorageDeletionTable {
  key: string;
  user_id: string;
  requested_at: Generated<Date>;
  attempts: Generated<number>;
  next_attempt_at: Generated<Date>;
}

export interface DB extends QueueTables, PurgeTombstoneTables {
  generations: GenerationTable;
  images: ImageTable;
  uploads: UploadTable;
  user_profiles: UserProfileTable;
  storage_deletions: StorageDeletionTable;
  image_reports: ImageReportTable;
  daily_counts: DailyCountTable;
}

export type GenerationRow = Selectable<GenerationTable>;
export type ImageRow = Selectable<ImageTable>;
export type UploadRow = Selectable<UploadTable>;
export type ImageReportRow = Selectable<ImageReportTable>;
