import { describe, it, expect } from 'vitest';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { OPEN_STATUSES } from '../src/db.js';
import { ENDINGS, MOVES } from '../src/generations/lifecycle.js';

const src = fileURLToPath(new URL('../src', import.meta.url));
const files = (dir: string): string[] => readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? files(path.join(dir, e.name)) : e.name.endsWith('.ts') ? [path.join(dir, e.name)] : []));

describe('the generation lifecycle has one home (src/generations/lifecycle.ts)', () => {
  it('no other module changes a status or lists the states a move starts from', () => {
    for (const file of files(src)) {
      const rel = path.relative(src, file);
      // lifecycle.ts owns the moves, the repository runs them, db.ts defines the statuses.
      if ([path.join('generations', 'lifecycle.ts'), path.join('generations', 'generations.repository.ts'), 'db.ts'].includes(rel)) continue;
      const text = readFileSync(file, 'utf8');
      expect(text, rel).not.toMatch(/repo\.transition\(/);
      expect(text, rel).not.toMatch(/\['(reserving|queued|running)'(, '(reserving|queued|running)')*\]/);
      expect(text, rel).not.toMatch(/'ledger\.release'/);
    }
  });

  it('every ending moves an open generation to failed or canceled; only the ledger’s own expiry releases nothing', () => {
    const endings = [ENDINGS.canceled, ENDINGS.holdRanOut, ENDINGS.ledgerExpired, ENDINGS.renderFailed('GENERATION_PROVIDER_REJECTED')];
    for (const e of endings) {
      expect(MOVES[e.move].from).toEqual(OPEN_STATUSES);
      expect(['failed', 'canceled']).toContain(MOVES[e.move].to);
    }
    expect(endings.filter((e) => e.release === null)).toEqual([ENDINGS.ledgerExpired]);
    expect(MOVES.succeed.from).toEqual(['running']);
    expect(MOVES.retry).toEqual({ from: ['running'], to: 'queued' });
  });
});
