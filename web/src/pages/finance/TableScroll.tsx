import type { ReactNode } from 'react';

/**
 * A table that may be wider than a phone: it scrolls inside its own focusable, labelled region.
 * `compact`: as wide as its figures need (a line per figure, a column per currency), not the page.
 */
export function TableScroll({ label, className, compact = false, children }: { label: string; className?: string; compact?: boolean; children: ReactNode }) {
  return (
    <div className={compact ? 'table-scroll compact' : 'table-scroll'} role="region" aria-label={label} tabIndex={0}>
      <table className={className ? `data-table ${className}` : 'data-table'}>{children}</table>
    </div>
  );
}
