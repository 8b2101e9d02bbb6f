/**
 * Vitest global setup: the NATS server every integration test uses.
 *   1. NATS_URL, if set;
 *   2. else a private nats-server from PATH on a free loopback port (stopped after the tests);
 *   3. else testcontainers' NATS module, only if a Docker engine answers (imported lazily, so a
 *      machine without Docker never loads testcontainers);
 *   4. else fail, saying how to get a server.
 * No test depends on a server someone else started on a fixed port.
 */
import { execFileSync } from 'node:child_process';
import type { TestProject } from 'vitest/node';
import { findNatsServer, startNatsServer, INSTALL_HINT, type NatsHandle } from '../../orchestrator/natsServer.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    natsUrl: string;
    natsMonitorUrl: string;
    natsSource: string;
  }
}

/** true when a Docker engine answers (not just the client) */
export function dockerAnswers(): boolean {
  try {
    execFileSync('docker', ['info', '--format', '{{.ServerVersion}}'], { stdio: 'pipe', timeout: 5000 });
    return true;
  } catch {
    return false;
  }
}

let stop: (() => Promise<void>) | undefined;

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  let url: string;
  let monitor = '';
  let source: string;
  if (process.env.NATS_URL) {
    url = process.env.NATS_URL;
    source = 'NATS_URL';
  } else if (findNatsServer()) {
    const h: NatsHandle = await startNatsServer();
    url = h.url;
    monitor = h.monitorUrl ?? '';
    stop = h.stop;
    source = 'private nats-server';
  } else if (dockerAnswers()) {
    const { NatsContainer } = await import('@testcontainers/nats');
    const c = await new NatsContainer('nats:2.10-alpine').start();
    url = c.getConnectionOptions().servers as string;
    stop = async () => void (await c.stop());
    source = 'testcontainers';
  } else {
    throw new Error(`no NATS server for the tests: NATS_URL is not set, nats-server is not on PATH and no Docker engine answers. ${INSTALL_HINT}`);
  }
  process.env.MECSIM_TEST_NATS = url;
  project.provide('natsUrl', url);
  project.provide('natsMonitorUrl', monitor);
  project.provide('natsSource', source);
  return async () => {
    await stop?.();
  };
}
