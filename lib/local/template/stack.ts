/**
 * The template mode: the synthesized stack itself run locally. The template's table and queues
 * on the emulators, each function from its asset in a process of its own behind the local IAM
 * endpoint, the custom resources created, the event source mappings polled and the HTTP API
 * served, as `cdk deploy` would have them on AWS.
 * May import: base, engine, store, core, adapters, local.
 *
 * @module
 */
import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SQSClient } from '@aws-sdk/client-sqs';
import { DEPLOYMENT_FILE } from '../../adapters/aws-lambda/functions/deployment.ts';
import type { LogSink } from '../../core/log.ts';
import { FunctionError, SettleTimeoutError, TemplateError } from '../../errors.ts';
import {
  freeLoopbackPort,
  localAwsConfig,
  type RunningEmulators,
  startEmulators,
} from '../emulators.ts';
import { queuesEmpty, waitUntilQuiet } from '../quiet.ts';
import { loadStack } from './assembly.ts';
import { type AwsProxy, type HttpAnswer, startAwsProxy } from './aws-proxy.ts';
import { CUSTOM_RESOURCE_RESPONSE_HOST, CustomResources, providerOf } from './custom-resources.ts';
import { FunctionHost } from './function-host.ts';
import { functionSpec, releaseCode, TaskRoots } from './function-spec.ts';
import { createIamAuthorizer, type IamAuthorizer, policyResources, rolePolicies } from './iam.ts';
import { IntrinsicResolver, type PhysicalResource } from './intrinsics.ts';
import {
  type DroppedRecords,
  type MappingSpec,
  mappingSpec,
  streamSourceOfHandler,
  TemplateMappings,
} from './mappings.ts';
import type { FunctionCredentials, FunctionSpec } from './model.ts';
import { defaultPhysical, hash, isCustomResource, roleIdFromName } from './physical.ts';
import { preflight } from './preflight.ts';
import {
  createQueue,
  createTable,
  inventory,
  physicalName,
  queueCreationOrder,
} from './resources.ts';
import { type PutEventsEntry, ruleSpec, TemplateRules } from './rules.ts';
import { serveTemplate, type TemplateServer } from './serve.ts';

/** Options of `startTemplateStack`. */
export interface TemplateStackOptions {
  /** The cloud assembly folder (`cdk.out`) or a template file. */
  readonly assembly: string;
  /** The stack to run, when the assembly has several with a `Triggers` construct. */
  readonly stack?: string;
  /** The loopback port of the HTTP API. @default 0 - a free one */
  readonly port?: number;
  /** Structured logs of the mode itself (pollers, denied calls, dropped records). */
  readonly log: LogSink;
  /** Each line a function writes, with its logical id. @default - stderr, prefixed */
  readonly output?: (functionLogicalId: string, line: string) => void;
  /** Serve the inspector beside the API. @default true */
  readonly inspector?: boolean;
}

/** A denied AWS call, as the local IAM endpoint refused it. */
export interface DeniedCall {
  readonly functionLogicalId: string;
  readonly action: string;
  readonly resource: string;
  readonly message: string;
}

/** The running template mode. */
export interface TemplateStack {
  /** The HTTP API's base URL, `http://127.0.0.1:<port>`. */
  readonly url: string;
  readonly stackName: string;
  readonly dynamodbEndpoint: string;
  readonly sqsEndpoint: string;
  /** The local IAM endpoint every function calls AWS through. */
  readonly awsEndpoint: string;
  /** The session table's name (the table the deployment's functions use). */
  readonly tableName: string;
  /** The deployment's workflows, as its `app.json` holds them. */
  readonly deployment: { workflows: unknown[]; defaultWorkflow?: string };
  /** What the mode says once at start: skipped resources, authorization, unknown policies. */
  readonly notices: readonly string[];
  /** The functions, by logical id. */
  readonly functions: readonly string[];
  /** Every AWS call the IAM endpoint refused so far. */
  deniedCalls(): readonly DeniedCall[];
  /** Stream records the template's filters dropped that the package's wiring delivers. */
  droppedRecords(): readonly DroppedRecords[];
  /**
   * Resolves once nothing moves (no invocation under way, every poller idle, every source queue
   * empty); rejects with `SettleTimeoutError` after `timeoutMs`, or at once, naming the mapping,
   * when a mapping dropped records its function needs.
   */
  settle(timeoutMs: number): Promise<void>;
  /** Stops the functions, pollers, servers and every emulator it started. */
  stop(): Promise<void>;
}

/**
 * Starts the template mode for a cloud assembly: see the module comment. Throws `TemplateError`
 * (one line naming the file or logical id) for an assembly it cannot run, `IamSimulatorMissingError`
 * without the IAM policy simulator, `EmulatorsMissingError` without the emulators.
 *
 * @example
 * const stack = await startTemplateStack({ assembly: 'cdk.out', log: console.log });
 * // POST `${stack.url}/sessions/s1/events` { "trigger": "step1" }
 * await stack.stop();
 */
export async function startTemplateStack(opts: TemplateStackOptions): Promise<TemplateStack> {
  const stack = loadStack(opts.assembly, opts.stack);
  const { template, env } = stack;
  const { skipped } = inventory(template);
  const notices: string[] = [];
  if (skipped.length > 0) {
    const byKind = new Map<string, number>();
    for (const [, type] of skipped) byKind.set(type, (byKind.get(type) ?? 0) + 1);
    notices.push(
      `not emulated (no part of the data path): ${[...byKind].map(([type, n]) => `${n} ${type}`).join(', ')}`,
    );
  }
  const resources = Object.entries(template.Resources);
  const byType = (type: string) => resources.filter(([, r]) => r.Type === type);
  const run = randomUUID().slice(0, 6);
  const physical = new Map<string, PhysicalResource>();
  for (const [id, r] of resources) {
    if (r.Type !== 'AWS::DynamoDB::Table' && r.Type !== 'AWS::SQS::Queue' && !isCustomResource(r)) {
      physical.set(id, defaultPhysical(stack, run, id, r));
    }
  }
  const resolver = new IntrinsicResolver(template, env, stack.stackName, (id) => physical.get(id));
  const props = (id: string) =>
    (resolver.resolve(template.Resources[id]?.Properties ?? {}, id) ?? {}) as Record<
      string,
      unknown
    >;

  const functionIds = byType('AWS::Lambda::Function').map(([id]) => id);
  const cleanup: Array<() => Promise<void>> = [];
  // Stops what started, last first; a second stop finds nothing left to do.
  const stopAll = async () => {
    for (let step = cleanup.pop(); step !== undefined; step = cleanup.pop()) {
      await step().catch(() => undefined);
    }
  };
  // What the mode would refuse, it refuses before anything starts.
  await preflight(stack, run);
  const emulators: RunningEmulators = await startEmulators(process.env);
  cleanup.push(() => emulators.stop());
  try {
    const identities = new Map<
      string,
      { functionLogicalId: string; roleLogicalId: string | undefined; principalArn: string }
    >();
    let authorizer: IamAuthorizer | undefined;
    const denied: DeniedCall[] = [];
    const rewrites: Array<readonly [string, string]> = [];
    // Bound once the rules are read: PutEvents calls go to the template's rules.
    let eventsUpstream: ((body: string) => HttpAnswer) | undefined;
    // The IAM endpoint's port is chosen first: the queues' local URLs name it.
    const proxyPort = await freeLoopbackPort();
    const proxyUrl = `http://127.0.0.1:${proxyPort}`;
    // The data resources, each with the properties the template gives it.
    const ddb = new DynamoDBClient(localAwsConfig(emulators.dynamodbEndpoint));
    const tables = byType('AWS::DynamoDB::Table');
    const created: Array<Awaited<ReturnType<typeof createTable>>> = [];
    for (const [id] of tables) {
      const table = await createTable(
        ddb,
        id,
        props(id),
        physicalName(stack.stackName, run, id, 255),
        env,
      );
      physical.set(id, table);
      created.push(table);
    }
    // DynamoDB Local names its own region in ARNs: one prefix to rewrite, the same for every table.
    const streamed = created.find((t) => t.upstreamStreamArn !== undefined);
    const [localArns, upstreamArns] = [streamed?.attributes.Arn, streamed?.upstreamStreamArn].map(
      (arn) => arn?.split(':table/')[0],
    );
    if (localArns !== undefined && upstreamArns !== undefined && localArns !== upstreamArns) {
      rewrites.push([`${localArns}:`, `${upstreamArns}:`]);
    }
    const sqs = new SQSClient(localAwsConfig(emulators.sqsEndpoint));
    const queueIds = queueCreationOrder(
      byType('AWS::SQS::Queue').map(([id, r]) => [id, r.Properties ?? {}]),
    );
    const queueUrlByArn = new Map<string, string>();
    const upstreamUrlByArn = new Map<string, string>();
    for (const id of queueIds) {
      const q = await createQueue(
        sqs,
        id,
        props(id),
        physicalName(stack.stackName, run, id, 75),
        env,
        proxyUrl,
      );
      physical.set(id, q);
      queueUrlByArn.set(q.attributes.Arn ?? '', q.ref);
      upstreamUrlByArn.set(q.attributes.Arn ?? '', q.upstreamUrl);
    }
    // Every queue URL is the emulator's base with the account and name after it.
    const [someQueue] = upstreamUrlByArn.values();
    if (someQueue !== undefined) {
      rewrites.push([`${proxyUrl}/`, someQueue.replace(/[^/]+\/[^/]+$/, '')]);
    }

    // The rewrites are known once the resources are: the endpoint is started after them.
    const proxy: AwsProxy = await startAwsProxy({
      port: proxyPort,
      identities,
      authorizer: {
        authorize: (role, checks) => {
          if (authorizer === undefined)
            throw new TemplateError(
              stack.templateFile,
              'a function called AWS before the IAM policies were read',
            );
          return authorizer.authorize(role, checks);
        },
      },
      upstream: {
        dynamodb: emulators.dynamodbEndpoint,
        sqs: emulators.sqsEndpoint,
        events: async (body) =>
          eventsUpstream?.(body) ?? { status: 400, headers: {}, body: '{"message":"not ready"}' },
      },
      rewrites,
      onDenied: (d) => {
        denied.push(d);
        opts.log({
          level: 'error',
          message: `AccessDenied: ${d.message}`,
          timestamp: new Date().toISOString(),
        });
      },
      onUnsupported: (info) =>
        opts.log({
          level: 'warn',
          message: `a call the IAM endpoint cannot map was refused: ${info.message}`,
          timestamp: new Date().toISOString(),
        }),
      log: opts.log,
    });
    cleanup.push(() => proxy.close());

    // The functions, each with credentials of its own that the IAM endpoint knows it by.
    const roleIdByArn = new Map<string, string>();
    for (const [id] of byType('AWS::IAM::Role'))
      roleIdByArn.set(physical.get(id)?.attributes.Arn ?? '', id);
    const specs = new Map<string, FunctionSpec>();
    const taskRoots = new TaskRoots();
    cleanup.push(async () => taskRoots.release());
    const credentials = new Map<string, FunctionCredentials>();
    const functionIdByNameOrArn = new Map<string, string>();
    for (const id of functionIds) {
      const resolved = functionSpec(stack, id, props(id), physical.get(id)?.ref ?? id, roleIdByArn);
      cleanup.push(async () => releaseCode(resolved));
      const spec = { ...resolved, codeDir: taskRoots.of(resolved.codeDir) };
      specs.set(id, spec);
      const creds = {
        accessKeyId: `AKIALOCAL${hash(`${run}/${id}`, 11)}`,
        secretAccessKey: hash(`secret/${run}/${id}`, 40),
      };
      credentials.set(id, creds);
      const roleName = spec.roleLogicalId ? physical.get(spec.roleLogicalId)?.ref : undefined;
      identities.set(creds.accessKeyId, {
        functionLogicalId: id,
        roleLogicalId: spec.roleLogicalId,
        principalArn: roleName
          ? `arn:${env.partition}:sts::${env.accountId}:assumed-role/${roleName}/${spec.functionName}`
          : `arn:${env.partition}:lambda:${env.region}:${env.accountId}:function:${spec.functionName}`,
      });
      functionIdByNameOrArn.set(spec.functionName, id);
      functionIdByNameOrArn.set(physical.get(id)?.attributes.Arn ?? '', id);
    }

    // The roles' policies, from the template, resolved.
    const policies = rolePolicies(policyResources(resources, props), env, {
      roleIdByName: (name) => roleIdFromName(physical, name),
      roleNameById: (id) => physical.get(id)?.ref,
      queueArnByUrl: (url) => [...queueUrlByArn].find(([, u]) => u === url)?.[0],
    });
    if (policies.unknownManagedPolicies.length > 0) {
      notices.push(
        `managed policies not known locally (their statements are not evaluated): ${policies.unknownManagedPolicies.join(', ')}`,
      );
    }
    authorizer = await createIamAuthorizer({
      policiesByRole: policies.byRole,
      resourcePolicies: policies.resourcePolicies,
      env,
    });

    const output =
      opts.output ?? ((id: string, line: string) => process.stderr.write(`${id} | ${line}\n`));
    const hosts = new Map<string, FunctionHost>();
    const customResources = await CustomResources.start();
    cleanup.push(() => customResources.close());
    for (const [id, spec] of specs) {
      hosts.set(
        id,
        new FunctionHost(spec, {
          credentials: credentials.get(id) as FunctionCredentials,
          awsEndpoint: proxy.url,
          env,
          output: (line) => output(id, line),
          customResourceResponse: { host: CUSTOM_RESOURCE_RESPONSE_HOST, url: customResources.url },
        }),
      );
    }
    cleanup.push(async () => {
      await Promise.all([...hosts.values()].map((h) => h.stop()));
    });
    const invoke = async (id: string, event: unknown): Promise<unknown> => {
      const host = hosts.get(id);
      if (host === undefined) throw new TemplateError(id, 'is not a function of the template');
      const res = await host.invoke(event);
      if (res.ok) return res.result;
      throw new FunctionError(id, res.errorType, res.errorMessage);
    };

    // Custom resources, in template order (each provider is a function of the template).
    for (const [id, r] of resources.filter(([, r]) => isCustomResource(r))) {
      const properties = props(id);
      const provider = providerOf(id, properties, (arn) => functionIdByNameOrArn.get(arn));
      physical.set(
        id,
        await customResources.create({
          logicalId: id,
          type: r.Type,
          properties,
          stackId: String(resolver.resolve({ Ref: 'AWS::StackId' }, id)),
          invoke: async (event) => {
            await invoke(provider, event);
          },
          timeoutSeconds: specs.get(provider)?.timeoutSeconds ?? 60,
        }),
      );
    }

    // The event source mappings, polling with their function's credentials.
    const mappingSpecs: MappingSpec[] = byType('AWS::Lambda::EventSourceMapping').map(([id]) =>
      mappingSpec(id, props(id), (name) => functionIdByNameOrArn.get(name)),
    );
    const sourceOf = (id: string) => {
      const spec = specs.get(id);
      if (spec === undefined || !existsSync(join(spec.codeDir, DEPLOYMENT_FILE))) return undefined;
      return streamSourceOfHandler(spec.handler);
    };
    const mappings = new TemplateMappings(mappingSpecs, {
      env,
      awsEndpoint: proxy.url,
      credentialsOf: (id) => credentials.get(id) as FunctionCredentials,
      invoke,
      queueUrlOf: (arn) => queueUrlByArn.get(arn),
      sourceOf,
      log: opts.log,
    });
    mappings.start();
    cleanup.push(() => mappings.stop());

    const evaluator = [...specs.values()].find((s) => sourceOf(s.logicalId) === 'evaluator');
    if (evaluator === undefined) {
      throw new TemplateError(
        stack.templateFile,
        'has no evaluator function of a Triggers construct',
      );
    }
    const deployment = JSON.parse(
      readFileSync(join(evaluator.codeDir, DEPLOYMENT_FILE), 'utf8'),
    ) as TemplateStack['deployment'];
    const tableName = evaluator.environment.TRIGGERS_TABLE_NAME ?? '';

    const rules = new TemplateRules(
      byType('AWS::Events::Rule').map(([id]) =>
        ruleSpec(id, props(id), physical.get(id)?.attributes.Arn ?? id, (arn) =>
          functionIdByNameOrArn.get(arn),
        ),
      ),
      { env, invoke, log: opts.log },
    );
    eventsUpstream = (body) => {
      const entries = (JSON.parse(body) as { Entries?: PutEventsEntry[] }).Entries ?? [];
      return {
        status: 200,
        headers: { 'content-type': 'application/x-amz-json-1.1' },
        body: JSON.stringify(rules.putEvents(entries)),
      };
    };
    const api: TemplateServer = await serveTemplate({
      resources: Object.fromEntries(
        resources
          .filter(([, r]) => r.Type.startsWith('AWS::ApiGatewayV2::'))
          .map(([id, r]) => [id, { ...r, Properties: props(id) }]),
      ),
      templateFile: stack.templateFile,
      functionOf: (arnOrName) => functionIdByNameOrArn.get(arnOrName),
      invoke,
      env,
      port: opts.port ?? 0,
      inspector: opts.inspector ?? true,
      rules,
      log: opts.log,
    });
    cleanup.push(() => api.close());
    notices.push(...api.notice);

    const sourceQueues = mappingSpecs
      .filter((m) => m.kind === 'queue')
      .flatMap((m) => upstreamUrlByArn.get(m.sourceArn) ?? []);
    const inFlight = () => [...hosts.values()].reduce((n, h) => n + h.inFlight, rules.inFlight);

    return {
      url: api.url,
      stackName: stack.stackName,
      dynamodbEndpoint: emulators.dynamodbEndpoint,
      sqsEndpoint: emulators.sqsEndpoint,
      awsEndpoint: proxy.url,
      tableName,
      deployment,
      notices,
      functions: [...specs.keys()],
      deniedCalls: () => [...denied],
      droppedRecords: () => mappings.droppedRecords(),
      settle: (timeoutMs) =>
        waitUntilQuiet(Date.now() + timeoutMs, {
          activity: () => mappings.delivered,
          idle: async () =>
            inFlight() === 0 && mappings.idle && (await queuesEmpty(sqs, sourceQueues)),
          check: () => {
            const [first] = mappings.droppedRecords();
            if (first !== undefined) {
              throw new SettleTimeoutError(
                `the session cannot settle: event source mapping ${first.mapping} dropped ${first.count} stream record(s) its function ${first.functionLogicalId} (the ${first.source}) needs, e.g. ${first.sample}: its FilterCriteria match none of them`,
              );
            }
          },
          timedOut: () =>
            `settle() timed out with work still in flight (${inFlight()} invocation(s) under way)`,
        }),
      stop: stopAll,
    };
  } catch (err) {
    await stopAll();
    throw err;
  }
}
