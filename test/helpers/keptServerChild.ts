/**
 * A process that starts a private nats-server and then ends the way the test asks, without ever
 * calling stop(): `node --import tsx keptServerChild.ts <hang|throw|exit|reject>`. Prints
 * `{"pid":…,"dir":…}` (the server's) on stdout first.
 */
import { startNatsServer } from '../../orchestrator/natsServer.ts';

const how = process.argv[2] ?? 'hang';
const h = await startNatsServer({ jetstream: true, extraConfig: 'authorization { user: u, password: "secret" }' });
process.stdout.write(JSON.stringify({ pid: h.pid, dir: h.dir }) + '\n');
setInterval(() => undefined, 1000); // alive until it ends as asked (or is killed)
if (how === 'throw') setTimeout(() => { throw new Error('an uncaught error'); }, 100);
if (how === 'reject') setTimeout(() => void Promise.reject(new Error('an unhandled rejection')), 100);
if (how === 'exit') setTimeout(() => process.exit(0), 100);
