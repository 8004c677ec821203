// Loads the Lambda bundles of a synthesized stack in a plain Node.js process, the way Lambda's
// Node.js runtime does (`import` of the handler file, then `handler`), with the environment the
// package test gives it: the construct's pre-bundled functions from their asset folder, and a
// task handler's bundle. Calls the ingest function with an event that is not an HTTP API
// request. Prints what it saw as one JSON line; the package test asserts on it.
//
// usage: node functions.mjs <functions asset folder> <task function bundle> <name>...
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const [assetDir, taskBundle, ...names] = process.argv.slice(2);

async function load(file) {
  try {
    const mod = await import(pathToFileURL(resolve(file)).href);
    return { handler: typeof mod.handler, module: mod };
  } catch (err) {
    return { error: `${err?.name}: ${err?.message}` };
  }
}

const functions = {};
for (const name of names) {
  const { module, ...loaded } = await load(join(assetDir, `${name}.mjs`));
  functions[name] = loaded;
}
const { module: _task, ...task } = await load(taskBundle);

let ingestReply;
const ingest = await load(join(assetDir, 'ingest.mjs'));
if (ingest.handler === 'function') {
  try {
    const reply = await ingest.module.handler({ source: 'not.an.http.request' }, {});
    ingestReply = { statusCode: reply?.statusCode, body: reply?.body };
  } catch (err) {
    ingestReply = { error: `${err?.name}: ${err?.message}` };
  }
}

console.log(JSON.stringify({ functions, task, ingestReply }));
