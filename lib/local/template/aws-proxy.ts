/**
 * The template mode's local AWS endpoint (the "IAM proxy"): every local function's SDK calls it
 * (`AWS_ENDPOINT_URL`). It knows the function by the access key id of the SigV4 `Authorization`
 * header (the signature itself is not verified: the endpoint listens on loopback only, and the
 * keys are handed out by the mode), maps the request to IAM checks, evaluates them against the
 * function's role, and either forwards the request to DynamoDB Local / the SQS emulator or
 * answers as AWS does: `AccessDeniedException`, `UnrecognizedClientException`, in the protocol
 * of the request (AWS JSON, query-compatible JSON, query XML, Smithy RPC v2 CBOR).
 * May import: base, engine, store, core, adapters, local.
 *
 * @module
 */
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import {
  Agent,
  createServer,
  type IncomingHttpHeaders,
  type IncomingMessage,
  request,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo } from 'node:net';
import { crc32 } from 'node:zlib';
import type { LogSink } from '../../core/log.ts';
import { localAwsConfig } from '../emulators.ts';
import {
  type AwsRequest,
  type AwsService,
  headerOf,
  type IamAuthorizer,
  type IamDenial,
  requestChecks,
  streamArnOfIterator,
} from './iam.ts';
import { DEFAULT_LOCAL_ENV, type LocalEnv } from './model.ts';

/** An HTTP answer: status, headers, body. */
export interface HttpAnswer {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string | Uint8Array;
}

/**
 * The wire protocol of a request, and so of its answers: AWS JSON (DynamoDB, Streams,
 * EventBridge), AWS JSON with query-compatible error codes (SQS, CloudWatch), the query protocol
 * (`Action=` form bodies, XML answers), and Smithy RPC v2 CBOR (newer CloudWatch clients).
 */
export type AwsProtocol = 'json' | 'json-query-compatible' | 'query' | 'rpc-v2-cbor';

/**
 * The wire protocol a request uses.
 *
 * @example
 * protocolOf({ path: '/', headers: { 'x-amz-target': 'AmazonSQS.SendMessage' } }); // 'json-query-compatible'
 */
export function protocolOf(req: Pick<AwsRequest, 'headers' | 'path'>): AwsProtocol {
  const target = headerOf(req, 'x-amz-target');
  if (target !== undefined) {
    return /^(AmazonSQS|GraniteServiceVersion20100801)\./.test(target)
      ? 'json-query-compatible'
      : 'json';
  }
  if (headerOf(req, 'smithy-protocol') === 'rpc-v2-cbor' || req.path.startsWith('/service/')) {
    return 'rpc-v2-cbor';
  }
  const form = (headerOf(req, 'content-type') ?? '').startsWith(
    'application/x-www-form-urlencoded',
  );
  return form ? 'query' : 'json';
}

/**
 * The access key id of a SigV4-signed request (`Authorization` header, or `X-Amz-Credential` of
 * a presigned URL). The signature is not checked.
 *
 * @example
 * accessKeyIdOf({ path: '/', headers: { authorization: 'AWS4-HMAC-SHA256 Credential=AKID/20240101/us-east-1/sqs/aws4_request, ...' } }); // 'AKID'
 */
export function accessKeyIdOf(req: Pick<AwsRequest, 'headers' | 'path'>): string | undefined {
  const auth = headerOf(req, 'authorization') ?? '';
  const scope =
    /Credential=([^,\s]+)/.exec(auth)?.[1] ??
    (req.path.includes('X-Amz-Credential=')
      ? new URL(req.path, 'http://local').searchParams.get('X-Amz-Credential')
      : null);
  const key = scope?.split('/')[0];
  return key === undefined || key === '' ? undefined : key;
}

/** An AWS error, in the words each protocol carries it. */
interface AwsError {
  readonly status: number;
  /** The error's name: `__type` of JSON, `Code` of XML. */
  readonly code: string;
  /** The code a query-compatible service reports (`x-amzn-query-error`). */
  readonly queryCode: string;
  readonly message: string;
}

const xmlEscape = (s: string): string => s.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** A CBOR map of text strings (RFC 8949): all an error body of Smithy RPC v2 CBOR needs. */
function cborTextMap(entries: Record<string, string>): Uint8Array {
  const head = (major: number, n: number): number[] =>
    n < 24
      ? [(major << 5) | n]
      : n < 256
        ? [(major << 5) | 24, n]
        : n < 65536
          ? [(major << 5) | 25, n >> 8, n & 255]
          : [(major << 5) | 26, (n >>> 24) & 255, (n >> 16) & 255, (n >> 8) & 255, n & 255];
  const bytes: number[] = head(5, Object.keys(entries).length);
  for (const text of Object.entries(entries).flat()) {
    const utf8 = Buffer.from(text, 'utf8');
    bytes.push(...head(3, utf8.length), ...utf8);
  }
  return Uint8Array.from(bytes);
}

function awsErrorAnswer(protocol: AwsProtocol, e: AwsError): HttpAnswer {
  const requestId = randomUUID();
  if (protocol === 'query') {
    const body =
      `<ErrorResponse><Error><Type>Sender</Type><Code>${xmlEscape(e.queryCode)}</Code>` +
      `<Message>${xmlEscape(e.message)}</Message><Detail/></Error>` +
      `<RequestId>${requestId}</RequestId></ErrorResponse>`;
    return {
      status: e.status,
      headers: { 'content-type': 'text/xml', 'x-amzn-requestid': requestId },
      body,
    };
  }
  const queryError = { 'x-amzn-query-error': `${e.queryCode};Sender` };
  if (protocol === 'rpc-v2-cbor') {
    return {
      status: e.status,
      headers: {
        'content-type': 'application/cbor',
        'smithy-protocol': 'rpc-v2-cbor',
        'x-amzn-requestid': requestId,
        ...queryError,
      },
      body: cborTextMap({ __type: e.code, message: e.message }),
    };
  }
  return {
    status: e.status,
    headers: {
      'content-type': 'application/x-amz-json-1.0',
      'x-amzn-requestid': requestId,
      ...(protocol === 'json' ? { 'x-amzn-errortype': e.code } : queryError),
    },
    body: JSON.stringify({ __type: `com.amazon.coral.service#${e.code}`, message: e.message }),
  };
}

/** What an `AccessDenied` answer names. */
export interface AccessDeniedFacts {
  readonly action: string;
  readonly resource: string;
  readonly principalArn: string;
  readonly functionLogicalId: string;
  /** The end of AWS's sentence. @default `because no identity-based policy allows the <action> action` */
  readonly reason?: string;
}

/**
 * The answer AWS gives a request IAM denies, in the request's protocol: AWS JSON (DynamoDB,
 * Streams, EventBridge) 400 `com.amazon.coral.service#AccessDeniedException` with
 * `x-amzn-ErrorType`; query-compatible JSON (SQS) 403 with `x-amzn-query-error:
 * AccessDenied;Sender` (the SDK names the error `AccessDenied`); query protocol 403 XML
 * `<ErrorResponse>` with code `AccessDenied`; CBOR likewise. The message is AWS's, with the
 * local function named at the end.
 *
 * @example
 * accessDeniedResponse('json', { action: 'dynamodb:PutItem', resource: tableArn,
 *   principalArn: 'arn:aws:sts::000000000000:assumed-role/Role/fn', functionLogicalId: 'Ingest' });
 * // { status: 400, body: '{"__type":"com.amazon.coral.service#AccessDeniedException","message":"User: ... (local function Ingest)"}', ... }
 */
export function accessDeniedResponse(protocol: AwsProtocol, facts: AccessDeniedFacts): HttpAnswer {
  return awsErrorAnswer(protocol, {
    status: protocol === 'json' ? 400 : 403,
    code: 'AccessDeniedException',
    queryCode: 'AccessDenied',
    message: accessDeniedMessage(facts),
  });
}

function accessDeniedMessage(facts: AccessDeniedFacts): string {
  const reason =
    facts.reason ?? `because no identity-based policy allows the ${facts.action} action`;
  return (
    `User: ${facts.principalArn} is not authorized to perform: ${facts.action} on resource: ` +
    `${facts.resource} ${reason} (local function ${facts.functionLogicalId})`
  );
}

/** Who a local function is to the endpoint: its logical id, its role, its session ARN. */
export interface ProxyIdentity {
  readonly functionLogicalId: string;
  readonly roleLogicalId: string | undefined;
  /** `arn:<partition>:sts::<account>:assumed-role/<roleName>/<functionName>`, for messages. */
  readonly principalArn: string;
}

/** A request the endpoint refused on IAM's word. */
export interface ProxyDenial extends IamDenial {
  readonly functionLogicalId: string;
  readonly principalArn: string;
  readonly service: AwsService;
  readonly operation: string;
  /** The message the function's SDK got. */
  readonly message: string;
}

/** A request the endpoint could not map to IAM checks, or whose service it does not emulate. */
export interface ProxyUnsupported {
  readonly functionLogicalId: string;
  readonly service: AwsService | undefined;
  readonly operation: string | undefined;
  readonly reason: string;
  /** The message the function's SDK got. */
  readonly message: string;
}

/** Options of `startAwsProxy`. */
export interface AwsProxyOptions {
  /** The functions, by the access key id they call AWS with. */
  readonly identities: ReadonlyMap<string, ProxyIdentity>;
  readonly authorizer: IamAuthorizer;
  readonly upstream: {
    /** DynamoDB and DynamoDB Streams (DynamoDB Local). */
    readonly dynamodb: string;
    /** SQS (the emulator). */
    readonly sqs: string;
    /** EventBridge `PutEvents`, handled by the caller; without it, answered "not emulated". */
    readonly events?: (body: string) => Promise<HttpAnswer>;
  };
  /**
   * `[local, upstream]` strings replaced in request bodies before forwarding, and back in the
   * answers (the ARNs and queue URLs functions see against those the emulators use). SQS
   * message bodies and attributes are left as they are: functions read what functions wrote,
   * and the checksums the SDK verifies stay right.
   */
  readonly rewrites?: ReadonlyArray<readonly [local: string, upstream: string]>;
  readonly onDenied?: (denial: ProxyDenial) => void;
  readonly onUnsupported?: (info: ProxyUnsupported) => void;
  readonly log: LogSink;
  /** The account and region ARNs are made in. @default DEFAULT_LOCAL_ENV */
  readonly env?: LocalEnv;
  /** @default 0 (a free port) */
  readonly port?: number;
}

/** A running endpoint. */
export interface AwsProxy {
  /** `http://127.0.0.1:<port>`. */
  readonly url: string;
  readonly port: number;
  /** Requests refused on IAM's word so far. */
  readonly deniedCount: number;
  close(): Promise<void>;
}

/** Replaces several strings in one pass (no replacement is replaced again). */
class Replacer {
  private readonly pattern: RegExp | undefined;
  private readonly to: ReadonlyMap<string, string>;
  constructor(pairs: ReadonlyArray<readonly [string, string]>) {
    const usable = pairs.filter(([from]) => from !== '');
    this.to = new Map(usable);
    // Longest first: of two patterns where one starts the other, the longer one wins.
    const alternatives = [...this.to.keys()].sort((a, b) => b.length - a.length);
    this.pattern =
      alternatives.length === 0
        ? undefined
        : new RegExp(
            alternatives.map((a) => a.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|'),
            'g',
          );
  }
  text(s: string): string {
    if (this.pattern === undefined) return s;
    return s.replace(this.pattern, (m) => this.to.get(m) ?? m);
  }
  applies(s: string): boolean {
    if (this.pattern === undefined) return false;
    this.pattern.lastIndex = 0;
    return this.pattern.test(s);
  }
}

/** SQS fields holding message content, which no rewrite touches. */
const SQS_CONTENT = /^(MessageBody|Body|MessageAttributes?|MessageSystemAttributes?|MD5Of\w+)$/;
const SQS_CONTENT_PARAM = /(^|\.)(MessageBody|MessageAttribute|MessageSystemAttribute)(\.|$)/;

function rewriteSqsJson(text: string, r: Replacer): string {
  const walk = (v: unknown): unknown => {
    if (typeof v === 'string') return r.text(v);
    if (Array.isArray(v)) return v.map(walk);
    if (typeof v !== 'object' || v === null) return v;
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) out[k] = SQS_CONTENT.test(k) ? x : walk(x);
    return out;
  };
  try {
    return JSON.stringify(walk(JSON.parse(text)));
  } catch {
    return text;
  }
}

/** Rewrites a body of `service` in `protocol`, leaving SQS message content alone. */
function rewriteBody(
  text: string,
  service: AwsService,
  protocol: AwsProtocol,
  r: Replacer,
): string {
  if (service === 'sqs' && protocol === 'query' && !text.trimStart().startsWith('<')) {
    // A form body: its values are URL-encoded, so each is rewritten decoded.
    const rewritten = new URLSearchParams();
    let changed = false;
    for (const [k, v] of new URLSearchParams(text)) {
      const value = SQS_CONTENT_PARAM.test(k) ? v : r.text(v);
      changed ||= value !== v;
      rewritten.append(k, value);
    }
    return changed ? rewritten.toString() : text;
  }
  if (!r.applies(text)) return text;
  if (service !== 'sqs') return r.text(text);
  if (protocol === 'json-query-compatible') return rewriteSqsJson(text, r);
  // Query-protocol answers: XML, message content in <Body> and <MessageAttribute> elements.
  let out = '';
  let at = 0;
  for (const m of text.matchAll(/<(Body|MessageAttribute|MD5Of\w+)>[\s\S]*?<\/\1>/g)) {
    out += r.text(text.slice(at, m.index)) + m[0];
    at = m.index + m[0].length;
  }
  return out + r.text(text.slice(at));
}

const HOP_BY_HOP = new Set([
  'host',
  'content-length',
  'connection',
  'keep-alive',
  'transfer-encoding',
  'expect',
  // Bodies are rewritten as text: the emulators must answer uncompressed.
  'accept-encoding',
]);
const MAX_REMEMBERED_ITERATORS = 10_000;

/**
 * Starts the local AWS endpoint on 127.0.0.1 (see the module comment). For each request: the
 * access key id names the function (unknown → `UnrecognizedClientException`); `requestChecks`
 * maps the request (unmapped → `UnsupportedOperation`, and `onUnsupported`); the authorizer
 * evaluates the function's role (no role, or any check denied → `AccessDenied`, and
 * `onDenied`); DynamoDB and Streams requests go to `upstream.dynamodb`, SQS to `upstream.sqs`
 * (method, path, headers and body, the body after `rewrites`; the answer back after the reverse
 * rewrites, with `x-amz-crc32` recomputed when the body changed), EventBridge `PutEvents` to
 * `upstream.events`, and CloudWatch `PutMetricData` is acknowledged and dropped.
 *
 * @example
 * const proxy = await startAwsProxy({ identities, authorizer,
 *   upstream: { dynamodb: emulators.dynamodbEndpoint, sqs: emulators.sqsEndpoint }, log });
 * // child env: AWS_ENDPOINT_URL=proxy.url, AWS_ACCESS_KEY_ID=<the function's key>
 * await proxy.close();
 */
export async function startAwsProxy(opts: AwsProxyOptions): Promise<AwsProxy> {
  const env = opts.env ?? DEFAULT_LOCAL_ENV;
  const toUpstream = new Replacer(opts.rewrites ?? []);
  const toLocal = new Replacer((opts.rewrites ?? []).map(([l, u]) => [u, l] as const));
  const agent = new Agent({ keepAlive: true });
  const iteratorStreams = new Map<string, string>();
  let deniedCount = 0;

  const remember = (iterator: unknown, stream: string | undefined): void => {
    if (typeof iterator !== 'string' || stream === undefined) return;
    if (streamArnOfIterator(iterator) !== undefined) return;
    if (iteratorStreams.size >= MAX_REMEMBERED_ITERATORS) {
      iteratorStreams.delete(iteratorStreams.keys().next().value as string);
    }
    iteratorStreams.set(iterator, stream);
  };

  const handle = async (req: IncomingMessage, raw: Buffer): Promise<HttpAnswer> => {
    const aws: AwsRequest = {
      method: req.method ?? 'POST',
      path: req.url ?? '/',
      headers: req.headers,
      body: raw.toString('utf8'),
    };
    const protocol = protocolOf(aws);
    const key = accessKeyIdOf(aws);
    const identity = key === undefined ? undefined : opts.identities.get(key);
    if (identity === undefined) {
      return awsErrorAnswer(protocol, {
        status: protocol === 'json' ? 400 : 403,
        code: 'UnrecognizedClientException',
        queryCode: 'InvalidClientTokenId',
        message: 'The security token included in the request is invalid.',
      });
    }
    const mapping = requestChecks(aws, env, (it) => iteratorStreams.get(it));
    const notEmulated = (
      service: AwsService | undefined,
      operation: string | undefined,
      reason: string,
    ) => {
      const { functionLogicalId } = identity;
      const message = `${service ?? 'AWS'} ${operation ?? 'request'} is not supported by the template mode's local AWS endpoint: ${reason} (local function ${functionLogicalId})`;
      opts.onUnsupported?.({ functionLogicalId, service, operation, reason, message });
      const code = 'UnsupportedOperation';
      return awsErrorAnswer(protocol, { status: 400, code, queryCode: code, message });
    };
    if (mapping.kind === 'unsupported')
      return notEmulated(mapping.service, mapping.operation, mapping.reason);

    const decision = await opts.authorizer.authorize(identity.roleLogicalId, mapping.checks);
    if (!decision.allowed) {
      deniedCount++;
      const { functionLogicalId, principalArn } = identity;
      const facts = { ...decision.denial, functionLogicalId, principalArn };
      const { service, operation } = mapping;
      opts.onDenied?.({ ...facts, service, operation, message: accessDeniedMessage(facts) });
      return accessDeniedResponse(protocol, facts);
    }

    switch (mapping.service) {
      case 'cloudwatch':
        return metricsAcknowledged(protocol);
      case 'events':
        return opts.upstream.events === undefined
          ? notEmulated('events', mapping.operation, 'EventBridge is not emulated in this run')
          : opts.upstream.events(aws.body);
    }
    const base = mapping.service === 'sqs' ? opts.upstream.sqs : opts.upstream.dynamodb;
    const body = rewriteBody(aws.body, mapping.service, protocol, toUpstream);
    const answer = await forward(base, req, body, agent);
    const received = answer.body.toString('utf8');
    const local = rewriteBody(received, mapping.service, protocol, toLocal);
    const headers = { ...answer.headers };
    // The SDK verifies DynamoDB's checksum of the body it gets.
    if (local !== received && headers['x-amz-crc32'] !== undefined) {
      headers['x-amz-crc32'] = String(crc32(local));
    }
    if (mapping.service === 'dynamodb-streams' && answer.status === 200) {
      const op = mapping.operation;
      const asked = /"ShardIterator"\s*:\s*"([^"]+)"/.exec(aws.body)?.[1] ?? '';
      if (op === 'GetShardIterator' || (op === 'GetRecords' && !streamArnOfIterator(asked))) {
        const parsed = JSON.parse(local) as {
          ShardIterator?: unknown;
          NextShardIterator?: unknown;
        };
        remember(parsed.ShardIterator ?? parsed.NextShardIterator, mapping.checks[0]?.resource);
      }
    }
    return { status: answer.status, headers, body: local === received ? answer.body : local };
  };

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      handle(req, Buffer.concat(chunks)).then(
        (answer) => send(res, answer),
        (err: unknown) => {
          opts.log({
            level: 'error',
            message: 'the local AWS endpoint failed a request',
            timestamp: new Date().toISOString(),
            path: req.url,
            target: req.headers['x-amz-target'],
            error: err instanceof Error ? `${err.name}: ${err.message}` : String(err),
          });
          send(
            res,
            awsErrorAnswer(protocolOf({ headers: req.headers, path: req.url ?? '/' }), {
              status: 500,
              code: 'InternalFailure',
              queryCode: 'InternalFailure',
              message: `the local AWS endpoint failed: ${err instanceof Error ? err.message : String(err)}`,
            }),
          );
        },
      );
    });
  });
  server.listen(opts.port ?? 0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    get deniedCount() {
      return deniedCount;
    },
    async close() {
      const closed = once(server, 'close');
      server.close();
      server.closeAllConnections();
      agent.destroy();
      await closed;
    },
  };
}

function send(res: ServerResponse, answer: HttpAnswer): void {
  const body = typeof answer.body === 'string' ? Buffer.from(answer.body, 'utf8') : answer.body;
  res.writeHead(answer.status, { ...answer.headers, 'content-length': String(body.byteLength) });
  res.end(body);
}

/** PutMetricData has nowhere to go locally: acknowledged, in the request's protocol. */
function metricsAcknowledged(protocol: AwsProtocol): HttpAnswer {
  const requestId = randomUUID();
  if (protocol === 'query') {
    const body = `<PutMetricDataResponse xmlns="http://monitoring.amazonaws.com/doc/2010-08-01/"><ResponseMetadata><RequestId>${requestId}</RequestId></ResponseMetadata></PutMetricDataResponse>`;
    return {
      status: 200,
      headers: { 'content-type': 'text/xml', 'x-amzn-requestid': requestId },
      body,
    };
  }
  if (protocol === 'rpc-v2-cbor') {
    const headers = {
      'content-type': 'application/cbor',
      'smithy-protocol': 'rpc-v2-cbor',
      'x-amzn-requestid': requestId,
    };
    return { status: 200, headers, body: cborTextMap({}) };
  }
  return {
    status: 200,
    headers: { 'content-type': 'application/x-amz-json-1.0', 'x-amzn-requestid': requestId },
    body: '{}',
  };
}

/** Sends a request on to an emulator and reads its whole answer. */
async function forward(
  base: string,
  req: IncomingMessage,
  body: string,
  agent: Agent,
): Promise<{ status: number; headers: Record<string, string>; body: Buffer }> {
  const headers: IncomingHttpHeaders = {};
  for (const [k, v] of Object.entries(req.headers)) if (!HOP_BY_HOP.has(k)) headers[k] = v;
  // DynamoDB Local keeps a database per access key and region (unless -sharedDb): every call
  // must reach the one the mode created the tables in, under the emulators' own credentials.
  const { region, credentials } = localAwsConfig(base);
  headers.authorization = headers.authorization?.replace(
    /Credential=[^/]*\/([^/]*)\/[^/]*\//,
    `Credential=${credentials.accessKeyId}/$1/${region}/`,
  );
  headers['content-length'] = String(Buffer.byteLength(body));
  const upstream = request(new URL(req.url ?? '/', base), { method: req.method, headers, agent });
  upstream.end(body);
  const [res] = (await once(upstream, 'response')) as [IncomingMessage];
  const chunks: Buffer[] = [];
  for await (const chunk of res) chunks.push(chunk as Buffer);
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(res.headers)) {
    if (v !== undefined && !HOP_BY_HOP.has(k)) out[k] = Array.isArray(v) ? v.join(', ') : v;
  }
  return { status: res.statusCode ?? 502, headers: out, body: Buffer.concat(chunks) };
}
