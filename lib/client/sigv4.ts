/**
 * AWS Signature Version 4 for requests to the HTTP API (API Gateway with IAM authorization):
 * resolves a region and credentials, and decides once whether a client signs at all.
 * May import: base, engine, store, core; the AWS SDK and Node.js.
 *
 * @module
 */
import { createHash, createHmac, type Hash, type Hmac } from 'node:crypto';
import { defaultProvider } from '@aws-sdk/credential-provider-node';
import { SignatureV4 } from '@smithy/signature-v4';
import { ValidationError } from '../errors.ts';

/** AWS credentials, as the SDK's providers resolve them. */
export interface AwsCredentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken?: string;
  readonly expiration?: Date;
}

/** Resolves credentials; rejects when it finds none. */
export type AwsCredentialsProvider = () => Promise<AwsCredentials>;

/** A request about to be sent with `fetch`. */
export interface SignableRequest {
  method: string;
  url: string;
  headers: Record<string, string>;
  body?: string;
}

/** Options of `ApiRequestSigner`. */
export interface ApiRequestSignerOptions {
  /** The URL requests go to; an `execute-api` host names its region. */
  readonly apiUrl: string;
  /** The region to sign for. @default - the `execute-api` host's region, else `AWS_REGION` */
  readonly region?: string;
  /**
   * Credentials, or where they come from. A provider that rejects means "no credentials":
   * requests then go unsigned.
   * @default - the AWS SDK's default provider chain
   */
  readonly credentials?: AwsCredentials | AwsCredentialsProvider;
  /** The signing name of the service. @default 'execute-api' */
  readonly service?: string;
  /** The environment `AWS_REGION` is read from. @default process.env */
  readonly env?: Readonly<Record<string, string | undefined>>;
}

type SourceData = string | ArrayBuffer | ArrayBufferView;

function bytesOf(data: SourceData): Buffer {
  if (typeof data === 'string') return Buffer.from(data, 'utf8');
  if (ArrayBuffer.isView(data)) return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  return Buffer.from(data);
}

/** SHA-256 (HMAC-SHA-256 with a secret) over `node:crypto`, in the shape the signer expects. */
class NodeSha256 {
  private hash: Hash | Hmac;

  constructor(private readonly secret?: SourceData) {
    this.hash = NodeSha256.create(secret);
  }

  private static create(secret: SourceData | undefined): Hash | Hmac {
    return secret === undefined ? createHash('sha256') : createHmac('sha256', bytesOf(secret));
  }

  update(data: SourceData): void {
    this.hash.update(bytesOf(data));
  }

  async digest(): Promise<Uint8Array> {
    return new Uint8Array(this.hash.digest());
  }

  reset(): void {
    this.hash = NodeSha256.create(this.secret);
  }
}

const EXECUTE_API_HOST = /\.execute-api\.([a-z0-9-]+)\.amazonaws\.com(?:\.cn)?$/;

/**
 * The region in an API Gateway default endpoint's host name; undefined for any other host.
 *
 * @example
 * regionFromApiUrl('https://abc123.execute-api.eu-west-1.amazonaws.com/prod'); // 'eu-west-1'
 */
export function regionFromApiUrl(apiUrl: string): string | undefined {
  if (!URL.canParse(apiUrl)) return undefined;
  return EXECUTE_API_HOST.exec(new URL(apiUrl).hostname)?.[1];
}

/**
 * Signs requests to the HTTP API with SigV4 when there are credentials, and leaves them
 * unsigned when there are none (the local stack checks no signature). Whether credentials
 * exist is found out once, on the first request; a provider that finds them is asked again on
 * every request, so expiring credentials refresh. Without a region nothing is signed. The
 * signing itself is `@smithy/signature-v4`, the AWS SDK's own; this class only resolves a region
 * and credentials.
 *
 * @example
 * const signer = new ApiRequestSigner({ apiUrl: 'https://abc.execute-api.eu-west-1.amazonaws.com' });
 * const headers = await signer.headersFor({ method: 'GET', url, headers: {} });
 * await fetch(url, { method: 'GET', headers });
 */
export class ApiRequestSigner {
  /** The region requests are signed for; undefined when they are never signed. */
  readonly region: string | undefined;
  private readonly signer: SignatureV4 | undefined;
  private readonly provider: AwsCredentialsProvider;
  private available: Promise<boolean> | undefined;
  private missing: string | undefined;

  constructor(opts: ApiRequestSignerOptions) {
    const env = opts.env ?? process.env;
    this.region = regionFromApiUrl(opts.apiUrl) ?? opts.region ?? (env.AWS_REGION || undefined);
    const given = opts.credentials;
    if (given !== undefined && this.region === undefined) {
      throw new ValidationError(
        'signing requests needs a region: pass { region } or set AWS_REGION (an execute-api URL names its own)',
      );
    }
    this.provider =
      given === undefined
        ? defaultProvider()
        : typeof given === 'function'
          ? given
          : async () => given;
    this.signer =
      this.region === undefined
        ? undefined
        : new SignatureV4({
            service: opts.service ?? 'execute-api',
            region: this.region,
            credentials: () => this.provider(),
            sha256: NodeSha256,
            uriEscapePath: true,
            // A payload-hash header is S3's; API Gateway neither needs nor expects it.
            applyChecksum: false,
          });
    if (this.region === undefined) this.missing = 'no region is known';
  }

  /** Why requests go unsigned, once that is known; undefined while they are (or may be) signed. */
  get unsignedReason(): string | undefined {
    return this.missing;
  }

  private hasCredentials(): Promise<boolean> {
    this.available ??= this.provider().then(
      () => true,
      (err: unknown) => {
        this.missing = `no AWS credentials were found (${err instanceof Error ? err.message : String(err)})`;
        return false;
      },
    );
    return this.available;
  }

  /**
   * The headers to send: the request's own, plus `authorization`, `x-amz-date` (and
   * `x-amz-security-token` for temporary credentials) when it is signed.
   */
  async headersFor(req: SignableRequest, signingDate?: Date): Promise<Record<string, string>> {
    if (!this.signer || !(await this.hasCredentials())) return req.headers;
    const url = new URL(req.url);
    const query: Record<string, string | string[]> = {};
    for (const key of new Set(url.searchParams.keys())) {
      const values = url.searchParams.getAll(key);
      query[key] = values.length === 1 ? (values[0] as string) : values;
    }
    const signed = await this.signer.sign(
      {
        method: req.method,
        protocol: url.protocol,
        hostname: url.hostname,
        ...(url.port !== '' ? { port: Number(url.port) } : {}),
        path: url.pathname,
        query,
        headers: { ...req.headers, host: url.host },
        ...(req.body !== undefined ? { body: req.body } : {}),
      },
      signingDate !== undefined ? { signingDate } : {},
    );
    // fetch sets `host` itself, from the URL, to the value that was signed.
    const { host: _host, ...headers } = signed.headers;
    return headers;
  }
}
