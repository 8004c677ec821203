/**
 * The child side of a local Lambda execution environment, one per process: loads a template
 * function's handler from its asset folder as the Lambda Node.js runtime does, then runs one
 * invocation at a time for the `FunctionHost` that forked it, over the IPC channel. Plain
 * JavaScript, because it runs under plain `node` from the package's `dist/` as well.
 * May import: nothing (Node.js built-ins only).
 *
 * @module
 */
import { existsSync, readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { register, syncBuiltinESMExports } from 'node:module';
import { delimiter, dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';

/**
 * @typedef {{ type: 'init', codeDir: string, handler: string, functionName: string,
 *   invokedFunctionArn: string, memoryMb: number, timeoutSeconds: number,
 *   customResourceResponse?: { host: string, url: string } }} InitMessage
 * @typedef {{ type: 'invoke', id: number, requestId: string, eventJson: string, deadline: number }} InvokeMessage
 * @typedef {{ errorType: string, errorMessage: string, trace: string[] }} LambdaError
 * @typedef {(event: unknown, context: object, callback?: Function) => unknown} Handler
 */

/**
 * Bare specifiers an ES module cannot resolve from its own folder are retried from the
 * `NODE_PATH` folders, as the Lambda runtime makes its AWS SDK importable from ES modules
 * (Node's ESM resolver ignores `NODE_PATH`).
 */
const NODE_PATH_RESOLVER = `
let bases = [];
export function initialize(data) { bases = data.bases; }
export async function resolve(specifier, context, next) {
  try { return await next(specifier, context); } catch (error) {
    if (error?.code !== 'ERR_MODULE_NOT_FOUND' || /^([./]|[a-z][a-z0-9+.-]*:)/i.test(specifier)) throw error;
    for (const parentURL of bases) {
      try { return await next(specifier, { ...context, parentURL }); } catch {}
    }
    throw error;
  }
}`;

/** Ends this process with a code, as the Lambda runtime does after an uncaught error. */
const endProcess = process.exit.bind(process);

/** @type {Handler | undefined} */
let handler;
/** @type {InitMessage | undefined} */
let init;
/** @type {{ id: number } | undefined} */
let current;
/** The answer a callback handler gave, held until the event loop is empty. */
let onEmptyLoop = /** @type {(() => void) | undefined} */ (undefined);

/**
 * Lambda's error payload for a thrown value.
 * @param {unknown} error
 * @param {string} [errorType]
 * @returns {LambdaError}
 */
function lambdaError(error, errorType) {
  if (error instanceof Error) {
    return {
      errorType: errorType ?? error.name,
      errorMessage: errorType?.startsWith('Runtime.') ? String(error) : error.message,
      trace: (error.stack ?? '').split('\n'),
    };
  }
  return { errorType: errorType ?? typeof error, errorMessage: String(error), trace: [] };
}

/**
 * @param {string} errorType
 * @param {string} errorMessage
 * @returns {never}
 */
function fail(errorType, errorMessage) {
  throw Object.assign(new Error(errorMessage), { name: errorType });
}

/** @param {string} file */
function isEsModule(file) {
  if (file.endsWith('.mjs')) return true;
  if (file.endsWith('.cjs')) return false;
  for (let dir = dirname(file); ; dir = dirname(dir)) {
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest)) {
      try {
        return JSON.parse(readFileSync(manifest, 'utf8')).type === 'module';
      } catch {
        return false;
      }
    }
    if (dirname(dir) === dir) return false;
  }
}

/**
 * Resolves `path/file.export` in `codeDir` as the Lambda Node.js runtime does.
 * @param {string} codeDir
 * @param {string} name
 * @returns {Promise<Handler>}
 */
async function loadHandler(codeDir, name) {
  const slash = name.lastIndexOf('/');
  const base = name.slice(slash + 1);
  const dot = base.indexOf('.');
  if (dot <= 0 || dot === base.length - 1) {
    fail(
      'Runtime.MalformedHandlerName',
      `'${name}' is not a valid handler name. Use the format 'file.export'.`,
    );
  }
  const moduleName = name.slice(0, slash + 1) + base.slice(0, dot);
  const file = ['.js', '.mjs', '.cjs']
    .map((ext) => join(codeDir, moduleName + ext))
    .find((f) => existsSync(f));
  if (file === undefined)
    fail('Runtime.ImportModuleError', `Error: Cannot find module '${moduleName}'`);
  /** @type {Record<string, unknown>} */
  let namespace;
  try {
    namespace = await import(pathToFileURL(file).href);
  } catch (error) {
    const code = /** @type {{ code?: string }} */ (error)?.code;
    if (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') {
      fail('Runtime.ImportModuleError', String(error));
    }
    if (error instanceof SyntaxError) fail('Runtime.UserCodeSyntaxError', String(error));
    throw error;
  }
  // A CommonJS module's exports are its namespace's default: named exports of bundled CommonJS
  // are often invisible to Node's static detection.
  /** @type {unknown} */
  let value = isEsModule(file) ? namespace : namespace.default;
  for (const key of base.slice(dot + 1).split('.')) {
    value = value == null ? undefined : /** @type {Record<string, unknown>} */ (value)[key];
  }
  if (value === undefined) fail('Runtime.HandlerNotFound', `${base} is undefined or not exported`);
  if (typeof value !== 'function') fail('Runtime.HandlerNotFound', `${base} is not a function`);
  return /** @type {Handler} */ (value);
}

/**
 * Sends HTTPS requests to the custom resource response host over plain HTTP to the local
 * receiver instead: a provider answers CloudFormation with a PUT to the event's `ResponseURL`.
 * @param {{ host: string, url: string }} target
 */
function redirectCustomResourceResponses(target) {
  const local = new URL(target.url);
  const prefix = local.pathname.replace(/\/$/, '');
  /**
   * The arguments of `http.request` that send a request meant for the host to the receiver, or
   * undefined for any other host.
   * @param {unknown[]} args the arguments of `https.request`: `(url, options?, callback?)` or
   *   `(options, callback?)`
   * @returns {unknown[] | undefined}
   */
  const redirected = (args) => {
    const [first, second, third] = args;
    const withUrl = typeof first === 'string' || first instanceof URL;
    /** @type {Record<string, unknown>} */
    let options = withUrl ? {} : { .../** @type {object} */ (first) };
    if (withUrl) {
      const url = new URL(first);
      options = { hostname: url.hostname, path: url.pathname + url.search };
      if (typeof second === 'object' && second !== null) options = { ...options, ...second };
    }
    const callback = [second, third].find((arg) => typeof arg === 'function');
    const host = String(options.hostname ?? options.host ?? '').replace(/:\d+$/, '');
    if (host.toLowerCase() !== target.host.toLowerCase()) return undefined;
    // An https agent, port or protocol would not carry plain http to the receiver.
    const { agent, port, protocol, host: _host, hostname, path, ...rest } = options;
    const plain = {
      ...rest,
      protocol: 'http:',
      hostname: local.hostname,
      port: local.port,
      path: prefix + String(path ?? '/'),
    };
    return callback ? [plain, callback] : [plain];
  };
  const { request, get } = https;
  https.request = /** @type {typeof https.request} */ (
    (/** @type {unknown[]} */ ...args) => {
      const to = redirected(args);
      return to ? Reflect.apply(http.request, http, to) : Reflect.apply(request, https, args);
    }
  );
  https.get = /** @type {typeof https.get} */ (
    (/** @type {unknown[]} */ ...args) => {
      const to = redirected(args);
      return to ? Reflect.apply(http.get, http, to) : Reflect.apply(get, https, args);
    }
  );
  syncBuiltinESMExports();
  const nativeFetch = globalThis.fetch;
  globalThis.fetch = (input, options) => {
    const url = new URL(input instanceof Request ? input.url : String(input));
    if (url.hostname.toLowerCase() !== target.host.toLowerCase())
      return nativeFetch(input, options);
    const to = new URL(prefix + url.pathname + url.search, local);
    return nativeFetch(input instanceof Request ? new Request(to, input) : to, options);
  };
}

/**
 * Answers the invocation under way, once.
 * @param {unknown} error
 * @param {unknown} [result]
 */
function answer(error, result) {
  const call = current;
  if (call === undefined) return;
  current = undefined;
  if (onEmptyLoop !== undefined) {
    onEmptyLoop = undefined;
    process.channel?.ref();
  }
  if (error === undefined || error === null) {
    let resultJson;
    try {
      resultJson = JSON.stringify(result) ?? 'null';
    } catch (serializeError) {
      error = serializeError;
    }
    if (resultJson !== undefined) {
      process.send?.({ type: 'result', id: call.id, ok: true, resultJson });
      return;
    }
  }
  const payload = lambdaError(error);
  console.error(`ERROR\tInvoke Error \t${JSON.stringify(payload)}`);
  process.send?.({ type: 'result', id: call.id, ok: false, ...payload });
}

/** @param {InvokeMessage} message */
function invoke(message) {
  if (init === undefined || handler === undefined) return;
  current = { id: message.id };
  const context = {
    functionName: init.functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: init.invokedFunctionArn,
    memoryLimitInMB: String(init.memoryMb),
    awsRequestId: message.requestId,
    logGroupName: process.env.AWS_LAMBDA_LOG_GROUP_NAME,
    logStreamName: process.env.AWS_LAMBDA_LOG_STREAM_NAME,
    callbackWaitsForEmptyEventLoop: true,
    getRemainingTimeInMillis: () => Math.max(0, message.deadline - Date.now()),
    /** @type {(error?: unknown, result?: unknown) => void} */
    done: (error, result) => answer(error, result),
    /** @type {(result?: unknown) => void} */
    succeed: (result) => answer(undefined, result),
    /** @type {(error: unknown) => void} */
    fail: (error) => answer(error ?? 'handled'),
  };
  /** @type {(error?: unknown, result?: unknown) => void} */
  const callback = (error, result) => {
    if (!context.callbackWaitsForEmptyEventLoop) return answer(error, result);
    onEmptyLoop = () => answer(error, result);
    process.channel?.unref();
  };
  let returned;
  try {
    returned = handler(JSON.parse(message.eventJson), context, callback);
  } catch (error) {
    answer(error);
    return;
  }
  if (returned !== null && typeof returned === 'object' && 'then' in returned) {
    Promise.resolve(returned).then(
      (result) => answer(undefined, result),
      (error) => answer(error ?? 'rejected'),
    );
  } else if (current !== undefined && onEmptyLoop === undefined) {
    // A handler that neither returns a promise nor calls back answers null once its work is
    // done, as on Lambda: the event loop empties once the IPC channel no longer holds it.
    onEmptyLoop = () => answer(undefined, null);
    process.channel?.unref();
  }
}

process.on('beforeExit', () => {
  const pending = onEmptyLoop;
  if (pending === undefined) return;
  onEmptyLoop = undefined;
  process.channel?.ref();
  pending();
});

/**
 * As on Lambda, an error nobody caught fails the invocation under way and ends the environment.
 * @param {unknown} error
 * @param {string | undefined} errorType
 * @param {number} exitCode
 */
function crash(error, errorType, exitCode) {
  const payload = lambdaError(error, errorType);
  console.error(`ERROR\tUncaught Exception \t${JSON.stringify(payload)}`);
  const call = current;
  current = undefined;
  if (call !== undefined && process.send) {
    process.send({ type: 'result', id: call.id, ok: false, fatal: true, ...payload }, () =>
      endProcess(exitCode),
    );
  } else {
    endProcess(exitCode);
  }
}
process.on('uncaughtException', (error) => crash(error, undefined, 129));
process.on('unhandledRejection', (reason) =>
  crash(reason, 'Runtime.UnhandledPromiseRejection', 128),
);

process.on('message', async (/** @type {InitMessage | InvokeMessage} */ message) => {
  if (message.type === 'invoke') {
    invoke(message);
    return;
  }
  if (message.type !== 'init' || init !== undefined) return;
  init = message;
  const bases = (process.env.NODE_PATH ?? '')
    .split(delimiter)
    .filter(Boolean)
    .map((dir) => pathToFileURL(join(dir, 'noop.mjs')).href);
  register(`data:text/javascript,${encodeURIComponent(NODE_PATH_RESOLVER)}`, { data: { bases } });
  if (message.customResourceResponse)
    redirectCustomResourceResponses(message.customResourceResponse);
  try {
    handler = await loadHandler(message.codeDir, message.handler);
    process.send?.({ type: 'init-ok' });
  } catch (error) {
    const payload = lambdaError(error);
    console.error(`ERROR\tUncaught Exception \t${JSON.stringify(payload)}`);
    process.send?.({ type: 'init-error', ...payload });
  }
});
