#!/usr/bin/env node
// mecsim runs its TypeScript sources directly through tsx: no build step, nothing stale.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../orchestrator/cli.ts');
process.exitCode = await main(process.argv.slice(2));
