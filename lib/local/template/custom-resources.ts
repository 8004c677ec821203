/**
 * The template's custom resources run as CloudFormation runs them on create: the provider
 * function (the resource's `ServiceToken`) is invoked with a `Create` request, and its answer,
 * which it PUTs to the request's `ResponseURL`, is received on a loopback server.
 * May import: base, engine, store, core, adapters, local.
 *
 * @module
 */
import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { withinDeadline } from '../../core/clock.ts';
import { TemplateError } from '../../errors.ts';
import type { PhysicalResource } from './intrinsics.ts';

/** The made-up host of every `ResponseURL`; the function host sends requests to it here. */
export const CUSTOM_RESOURCE_RESPONSE_HOST = 'cloudformation-response.triggers.local';

/**
 * The logical id of a custom resource's provider function (its `ServiceToken`, resolved);
 * throws `TemplateError` naming the resource when it is not a function of the template.
 *
 * @example
 * const provider = providerOf('WorkflowVersion', props, (arn) => functionIds.get(arn));
 */
export function providerOf(
  logicalId: string,
  properties: Record<string, unknown>,
  functionOf: (nameOrArn: string) => string | undefined,
): string {
  const token = String(properties.ServiceToken);
  const provider = functionOf(token);
  if (provider === undefined) {
    throw new TemplateError(
      logicalId,
      `its ServiceToken ${token} is not a function of the template (SNS-backed providers are not emulated)`,
    );
  }
  return provider;
}

/** What a provider answers CloudFormation. */
interface ProviderAnswer {
  Status?: 'SUCCESS' | 'FAILED';
  Reason?: string;
  PhysicalResourceId?: string;
  Data?: Record<string, unknown>;
}

/** CloudFormation hands custom resources their properties' scalars as strings. */
function asCloudFormationSends(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(asCloudFormationSends);
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, asCloudFormationSends(v)]));
  }
  return typeof value === 'number' || typeof value === 'boolean' ? String(value) : value;
}

/**
 * The loopback server providers answer on, and the runs of custom resources through it.
 *
 * @example
 * const cr = await CustomResources.start();
 * const physical = await cr.create({ logicalId, type, properties, stackId, invoke, timeoutSeconds: 120 });
 * await cr.close();
 */
export class CustomResources {
  private readonly waiting = new Map<string, (answer: ProviderAnswer) => void>();

  private constructor(
    private readonly server: Server,
    /** The local URL answers go to. */
    readonly url: string,
  ) {}

  static async start(): Promise<CustomResources> {
    let self: CustomResources | undefined;
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const id = (req.url ?? '').replace(/^\//, '').split('?')[0] ?? '';
        let answer: ProviderAnswer;
        try {
          answer = JSON.parse(Buffer.concat(chunks).toString('utf8')) as ProviderAnswer;
        } catch {
          answer = {
            Status: 'FAILED',
            Reason: 'the provider answered with a body that is not JSON',
          };
        }
        self?.waiting.get(id)?.(answer);
        res.writeHead(200).end();
      });
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    const address = server.address();
    const port = typeof address === 'object' && address !== null ? address.port : 0;
    self = new CustomResources(server, `http://127.0.0.1:${port}`);
    return self;
  }

  /**
   * Creates one custom resource: invokes its provider with a `Create` request and waits for the
   * answer. Throws `TemplateError` naming the resource when the provider fails, answers
   * `FAILED`, or does not answer within its timeout.
   */
  async create(opts: {
    logicalId: string;
    type: string;
    properties: Record<string, unknown>;
    stackId: string;
    invoke: (event: unknown) => Promise<void>;
    timeoutSeconds: number;
  }): Promise<PhysicalResource> {
    const requestId = randomUUID();
    const answered = new Promise<ProviderAnswer>((resolve) => this.waiting.set(requestId, resolve));
    const event = {
      RequestType: 'Create',
      ServiceToken: String(opts.properties.ServiceToken ?? ''),
      ResponseURL: `https://${CUSTOM_RESOURCE_RESPONSE_HOST}/${requestId}`,
      StackId: opts.stackId,
      RequestId: requestId,
      LogicalResourceId: opts.logicalId,
      ResourceType: opts.type,
      ResourceProperties: asCloudFormationSends(opts.properties),
    };
    try {
      const [answer] = await withinDeadline(
        Promise.all([answered, opts.invoke(event)]),
        (opts.timeoutSeconds + 5) * 1000,
        () =>
          new TemplateError(
            opts.logicalId,
            `the custom resource's provider did not answer within ${opts.timeoutSeconds} s`,
          ),
      );
      if (answer.Status !== 'SUCCESS') {
        throw new TemplateError(
          opts.logicalId,
          `the custom resource failed: ${answer.Reason ?? 'no reason given'}`,
        );
      }
      const attributes: Record<string, string> = {};
      for (const [k, v] of Object.entries(answer.Data ?? {})) {
        attributes[k] = typeof v === 'string' ? v : JSON.stringify(v);
      }
      return { ref: answer.PhysicalResourceId ?? opts.logicalId, attributes };
    } catch (err) {
      if (err instanceof TemplateError) throw err;
      throw new TemplateError(
        opts.logicalId,
        `the custom resource's provider failed: ${err instanceof Error ? err.message : String(err)}`,
        { cause: err },
      );
    } finally {
      this.waiting.delete(requestId);
    }
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
