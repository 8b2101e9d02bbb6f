/** Benchmarks (filled in below). */
export async function benchMain(_ids: string[], _o: Record<string, unknown>): Promise<number> {
  process.stderr.write('mecsim bench: not yet implemented\n');
  return 1;
}
