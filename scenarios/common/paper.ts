import type { PaperRef } from '../types.ts';

/** A paper as one line: title — authors, venue, year, doi: …; the note in brackets. Fields the source did not give are left out. */
export function cite(p: PaperRef): string {
  const where = [p.authors, p.venue, p.year?.toString(), p.doi ? `doi:${p.doi}` : undefined].filter(Boolean).join(', ');
  return `${p.title}${where ? ` — ${where}` : ''}${p.note ? ` [${p.note}]` : ''}`;
}
