/**
 * Helpers for the paper's claims in the one typed shape (scenarios/types.ts `Claim`), so the console
 * and the report print every scenario's claims as the same table.
 */
import type { Claim, ClaimNumber } from '../types.ts';

/** A boolean-or-undecided outcome as a verdict: null means the numbers it needs do not exist. */
export function verdictOf(holds: boolean | null): Claim['verdict'] {
  return holds === null ? 'not-evaluable' : holds ? 'holds' : 'fails';
}

/** One number of a claim; a non-finite number is kept as null (JSON has no NaN or Infinity). */
export function n(label: string, value: number | string | null | undefined, unit?: string): ClaimNumber {
  const v = typeof value === 'number' && !Number.isFinite(value) ? null : (value ?? null);
  return unit === undefined ? { label, value: v } : { label, value: v, unit };
}

export function claim(id: string, statement: string, holds: boolean | null, numbers: ClaimNumber[], note?: string | null): Claim {
  return { id, statement, verdict: verdictOf(holds), numbers, ...(note ? { note } : {}) };
}

/** True when every claim that could be evaluated holds. */
export const noneFails = (claims: Claim[]): boolean => claims.every((c) => c.verdict !== 'fails');
