import type { ReactNode } from 'react';

/** A table that may be wider than a phone: it scrolls inside its own focusable, labelled region. */
export function TableScroll({ label, className, children }: { label: string; className?: string; children: ReactNode }) {
  return (
    <div className="table-scroll" role="region" aria-label={label} tabIndex={0}>
      <table className={className ? `data-table ${className}` : 'data-table'}>{children}</table>
    </div>
  );
}
