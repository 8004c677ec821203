/**
 * IAM for the template mode: the policies a template gives each role (identity policies, AWS
 * managed policies CDK roles use, queue policies), the IAM checks one AWS API request needs
 * (action and resource ARN, per item for DynamoDB transactions), and their evaluation with
 * `@cloud-copilot/iam-simulate`. `aws-proxy.ts` puts them on the wire.
 * May import: base, engine, store, core, adapters, local.
 *
 * @module
 */
import { IamSimulatorMissingError } from '../../errors.ts';
import type { CfnResource, LocalEnv } from './model.ts';

/** An IAM policy document, as the template writes it (intrinsics resolved). */
export interface PolicyDocument {
  readonly Version?: string;
  readonly Statement?: unknown;
}

/** A policy attached to a role, by the name the simulator reports it under. */
export interface NamedPolicy {
  readonly name: string;
  readonly document: PolicyDocument;
}

/** A role of the template: the name its sessions carry, and its identity policies. */
export interface RolePolicies {
  readonly roleName: string;
  readonly policies: readonly NamedPolicy[];
}

/** What `rolePolicies` collects from a template. */
export interface TemplatePolicies {
  /** Per role logical id. */
  readonly byRole: ReadonlyMap<string, RolePolicies>;
  /** Resource policies (`AWS::SQS::QueuePolicy`), per resource ARN; several merge into one. */
  readonly resourcePolicies: ReadonlyMap<string, PolicyDocument>;
  /** ARNs of AWS managed policies roles name that the mode does not know (not evaluated). */
  readonly unknownManagedPolicies: readonly string[];
}

/**
 * How the caller resolved the names the IAM resources refer to each other by. Each has a
 * default for templates that name things themselves.
 */
export interface TemplateNames {
  /**
   * The role a name in a policy's `Roles` (what `Ref` of the role resolved to) stands for.
   * @default the role whose logical id, `RoleName` or `roleNameById` it is (or an ARN ending so)
   */
  readonly roleIdByName?: (name: string) => string | undefined;
  /** The name a role's sessions carry. @default its `RoleName`, else its logical id */
  readonly roleNameById?: (logicalId: string) => string | undefined;
  /** The ARN of the queue a URL in `Queues` names. @default made of `env` and the URL's last segment */
  readonly queueArnByUrl?: (url: string) => string | undefined;
  /**
   * The `AWS::IAM::ManagedPolicy` an ARN of `ManagedPolicyArns` names.
   * @default the one whose logical id it is, or whose `ManagedPolicyName` and `Path` make it
   */
  readonly managedPolicyIdByArn?: (arn: string) => string | undefined;
}

const LOGS = 'logs:CreateLogGroup logs:CreateLogStream logs:PutLogEvents';

/** The AWS managed policies CDK's Lambda roles use (all on `*`), by the name after `:iam::aws:policy/`. */
const AWS_MANAGED_POLICIES: Readonly<Record<string, string>> = {
  'service-role/AWSLambdaBasicExecutionRole': LOGS,
  'service-role/AWSLambdaDynamoDBExecutionRole': `dynamodb:DescribeStream dynamodb:GetRecords dynamodb:GetShardIterator dynamodb:ListStreams ${LOGS}`,
  'service-role/AWSLambdaSQSQueueExecutionRole': `sqs:ReceiveMessage sqs:DeleteMessage sqs:GetQueueAttributes ${LOGS}`,
  'service-role/AWSLambdaVPCAccessExecutionRole': `ec2:CreateNetworkInterface ec2:DescribeNetworkInterfaces ec2:DescribeSubnets ec2:DeleteNetworkInterface ec2:AssignPrivateIpAddresses ec2:UnassignPrivateIpAddresses ${LOGS}`,
};

const props = (r: CfnResource): Record<string, unknown> => r.Properties ?? {};
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
const strings = (v: unknown): string[] =>
  Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
const lastSegment = (s: string): string => s.slice(s.lastIndexOf('/') + 1);
const list = (v: unknown): Array<Record<string, unknown>> => (Array.isArray(v) ? v : []);

/**
 * The resources whose policies `rolePolicies` reads (IAM roles, policies and managed policies,
 * and queue policies), each with its properties as `resolve` gives them.
 *
 * @example
 * const policies = rolePolicies(policyResources(resources, props), env, names);
 */
export function policyResources(
  resources: Iterable<readonly [string, CfnResource]>,
  resolve: (logicalId: string) => Record<string, unknown>,
): Record<string, CfnResource> {
  const out: Record<string, CfnResource> = {};
  for (const [id, r] of resources) {
    if (r.Type.startsWith('AWS::IAM::') || r.Type === 'AWS::SQS::QueuePolicy') {
      out[id] = { ...r, Properties: resolve(id) };
    }
  }
  return out;
}

/**
 * Collects, per role of a template whose intrinsics are already resolved to strings, the identity
 * policies IAM would evaluate: every `AWS::IAM::Policy` naming the role, its inline `Policies`,
 * the `AWS::IAM::ManagedPolicy` resources attached to it (by their `Roles` or the role's
 * `ManagedPolicyArns`), and the AWS managed policies it names (a built-in table of those CDK
 * Lambda roles use; others are listed in `unknownManagedPolicies`, not evaluated). Also the
 * queue policies, keyed by queue ARN.
 *
 * The resources refer to each other by the names the caller resolved `Ref` to (a role's name in
 * a policy's `Roles`, a queue's URL in `Queues`, a managed policy's ARN): `names` maps them back.
 *
 * @example
 * const policies = rolePolicies(resolved.Resources, env, {
 *   roleNameById: (id) => physical.get(id)?.ref,
 *   queueArnByUrl: (url) => queueArnByUrl.get(url),
 * });
 * if (policies.unknownManagedPolicies.length > 0) log.warn(policies.unknownManagedPolicies.join(', '));
 */
export function rolePolicies(
  resources: Readonly<Record<string, CfnResource>>,
  env: LocalEnv,
  names: TemplateNames = {},
): TemplatePolicies {
  const ofType = (type: string) => Object.entries(resources).filter(([, r]) => r.Type === type);
  const named = (name: unknown, fallback: string, document: unknown): NamedPolicy => ({
    name: str(name) ?? fallback,
    document: (document ?? {}) as PolicyDocument,
  });
  const policiesByRole = new Map<string, { roleName: string; policies: NamedPolicy[] }>();
  const roleIds = new Map<string, string>();
  for (const [id, r] of ofType('AWS::IAM::Role')) {
    const roleName = names.roleNameById?.(id) ?? str(props(r).RoleName) ?? id;
    policiesByRole.set(id, { roleName, policies: [] });
    for (const key of [id, roleName, str(props(r).RoleName)]) if (key) roleIds.set(key, id);
  }
  const attach = (roleNames: unknown, policy: NamedPolicy): void => {
    for (const name of strings(roleNames)) {
      const id = names.roleIdByName?.(name) ?? roleIds.get(name) ?? roleIds.get(lastSegment(name));
      const role = policiesByRole.get(id ?? '');
      if (role !== undefined && !role.policies.includes(policy)) role.policies.push(policy);
    }
  };
  for (const [id, r] of ofType('AWS::IAM::Policy')) {
    const p = props(r);
    attach(p.Roles, named(p.PolicyName, id, p.PolicyDocument));
  }
  const managed = new Map<string, NamedPolicy>();
  for (const [id, r] of ofType('AWS::IAM::ManagedPolicy')) {
    const p = props(r);
    const name = str(p.ManagedPolicyName) ?? id;
    const policy = named(name, id, p.PolicyDocument);
    const arn = `arn:${env.partition}:iam::${env.accountId}:policy${str(p.Path) ?? '/'}${name}`;
    for (const key of [id, arn]) managed.set(key, policy);
    attach(p.Roles, policy);
  }
  const managedPolicy = (arn: string): NamedPolicy | undefined =>
    managed.get(names.managedPolicyIdByArn?.(arn) ?? arn);

  const unknownManagedPolicies = new Set<string>();
  for (const [id, role] of policiesByRole) {
    const p = props(resources[id] as CfnResource);
    for (const inline of list(p.Policies)) {
      role.policies.push(named(inline.PolicyName, `${id}-inline`, inline.PolicyDocument));
    }
    for (const arn of strings(p.ManagedPolicyArns)) {
      const actions = AWS_MANAGED_POLICIES[/:iam::aws:policy\/(.+)$/.exec(arn)?.[1] ?? ''];
      const statement = { Effect: 'Allow', Action: actions?.split(' '), Resource: '*' };
      const policy =
        managedPolicy(arn) ??
        (actions && named(lastSegment(arn), '', { Version: '2012-10-17', Statement: [statement] }));
      if (!policy) unknownManagedPolicies.add(arn);
      else if (!role.policies.includes(policy)) role.policies.push(policy);
    }
  }

  const resourcePolicies = new Map<string, { Version: string; Statement: unknown[] }>();
  for (const [, r] of ofType('AWS::SQS::QueuePolicy')) {
    const doc = (props(r).PolicyDocument ?? {}) as PolicyDocument;
    for (const url of strings(props(r).Queues)) {
      const arn =
        names.queueArnByUrl?.(url) ??
        `arn:${env.partition}:sqs:${env.region}:${env.accountId}:${lastSegment(url)}`;
      const merged = resourcePolicies.get(arn) ?? { Version: '2012-10-17', Statement: [] };
      merged.Statement.push(...[doc.Statement].flat().filter((st) => st !== undefined));
      resourcePolicies.set(arn, merged);
    }
  }
  return {
    byRole: policiesByRole,
    resourcePolicies,
    unknownManagedPolicies: [...unknownManagedPolicies],
  };
}

// ---------------------------------------------------------------------------------------------
// Requests → IAM checks

/** One IAM authorization a request needs. */
export interface IamCheck {
  readonly action: string;
  readonly resource: string;
}

/** The services the template mode's AWS endpoint knows. */
export type AwsService = 'dynamodb' | 'dynamodb-streams' | 'sqs' | 'events' | 'cloudwatch';

/** An AWS API request as received over HTTP (header names in lower case, as Node gives them). */
export interface AwsRequest {
  readonly method: string;
  /** Path and query string. */
  readonly path: string;
  readonly headers: Readonly<Record<string, string | readonly string[] | undefined>>;
  readonly body: string;
}

/** What `requestChecks` makes of a request: its checks, or why it could not map it. */
export type RequestMapping =
  | {
      readonly kind: 'checks';
      readonly service: AwsService;
      readonly operation: string;
      readonly checks: readonly IamCheck[];
    }
  | {
      readonly kind: 'unsupported';
      readonly service: AwsService | undefined;
      readonly operation: string | undefined;
      readonly reason: string;
    };

/**
 * A header of a request (names in lower case).
 *
 * @example
 * headerOf(req, 'x-amz-target'); // 'DynamoDB_20120810.PutItem'
 */
export function headerOf(req: Pick<AwsRequest, 'headers'>, name: string): string | undefined {
  const v = req.headers[name];
  return typeof v === 'string' ? v : v?.[0];
}

/**
 * The stream ARN a DynamoDB Streams shard iterator names. DynamoDB Local's iterators start
 * with it (`<streamArn>|001|<base64>`); AWS's are opaque, hence undefined.
 *
 * @example
 * streamArnOfIterator('arn:aws:dynamodb:us-east-1:000000000000:table/T/stream/2024-01-01T00:00:00.000|001|c2g=');
 * // 'arn:aws:dynamodb:us-east-1:000000000000:table/T/stream/2024-01-01T00:00:00.000'
 */
export function streamArnOfIterator(iterator: string): string | undefined {
  const head = iterator.slice(0, Math.max(0, iterator.indexOf('|')));
  return head.startsWith('arn:') && head.includes('/stream/') ? head : undefined;
}

type Fields = Record<string, unknown>;
interface MappingInput {
  readonly op: string;
  readonly f: Fields;
  readonly arn: (service: string, rest: string) => string;
  readonly path: string;
  readonly iteratorStreams: (iterator: string) => string | undefined;
}
/** A service's mapping: the checks of an operation, or why it cannot be mapped. */
type ServiceChecks = (input: MappingInput) => IamCheck[] | string;

/** DynamoDB operations on no table: IAM checks them on `*`. */
const ACCOUNT_WIDE = new Set('ListTables DescribeLimits DescribeEndpoints ListBackups'.split(' '));

const dynamodbChecks: ServiceChecks = ({ op, f, arn }) => {
  const table = (name: unknown) => {
    const n = str(name) ?? '';
    return n.startsWith('arn:') ? n : arn('dynamodb', `table/${n}`);
  };
  const check = (action: string, resource: string) => ({ action: `dynamodb:${action}`, resource });
  switch (op) {
    case 'TransactWriteItems':
      // No IAM action of its own: each item needs PutItem, UpdateItem, DeleteItem or
      // ConditionCheckItem on its own table.
      return list(f.TransactItems).flatMap((item) =>
        ['Put', 'Update', 'Delete', 'ConditionCheck']
          .filter((m) => item[m] !== undefined)
          .map((m) => check(`${m}Item`, table((item[m] as Fields).TableName))),
      );
    case 'TransactGetItems':
      return list(f.TransactItems).map((i) =>
        check('GetItem', table((i.Get as Fields)?.TableName)),
      );
    case 'BatchGetItem':
    case 'BatchWriteItem':
      return Object.keys((f.RequestItems as Fields | undefined) ?? {}).map((t) =>
        check(op, table(t)),
      );
    case 'ExecuteStatement':
    case 'BatchExecuteStatement':
    case 'ExecuteTransaction':
      return 'PartiQL statements are not mapped to IAM actions';
  }
  if (str(f.TableName) !== undefined) {
    const index = str(f.IndexName) === undefined ? '' : `/index/${f.IndexName}`;
    return [check(op, table(f.TableName) + index)];
  }
  const resourceArn = str(f.ResourceArn) ?? str(f.TableArn);
  if (resourceArn !== undefined) return [check(op, resourceArn)];
  return ACCOUNT_WIDE.has(op) ? [check(op, '*')] : 'the request names no table';
};

const streamsChecks: ServiceChecks = ({ op, f, iteratorStreams }) => {
  const action = `dynamodb:${op}`;
  if (op === 'ListStreams') return [{ action, resource: '*' }];
  const iterator = str(f.ShardIterator);
  const stream =
    op === 'GetRecords' && iterator !== undefined
      ? (streamArnOfIterator(iterator) ?? iteratorStreams(iterator))
      : str(f.StreamArn);
  return stream === undefined ? 'the stream is not known' : [{ action, resource: stream }];
};

const sqsChecks: ServiceChecks = ({ op, f, arn, path }) => {
  const queue = (name: string, account?: string) =>
    arn('sqs', name).replace(/:[^:]*:([^:]*)$/, (m, n) => (account ? `:${account}:${n}` : m));
  const url = str(f.QueueUrl);
  // Older query-protocol clients post to the queue URL itself: /<account>/<queue>.
  const [account, name, extra] = new URL(path, 'http://local').pathname.split('/').slice(1);
  let resource: string | undefined;
  if (op === 'ListQueues') resource = '*';
  else if (op === 'CreateQueue' || op === 'GetQueueUrl') {
    const queueName = str(f.QueueName);
    resource = queueName ? queue(queueName, str(f.QueueOwnerAWSAccountId)) : undefined;
  } else if (url !== undefined) resource = queue(lastSegment(url));
  else if (str(f.SourceArn) !== undefined) resource = str(f.SourceArn);
  else if (name && extra === undefined) resource = queue(name, account);
  if (resource === undefined) return 'the request names no queue';
  // SendMessageBatch needs sqs:SendMessage, DeleteMessageBatch sqs:DeleteMessage, ...
  return [{ action: `sqs:${op.replace(/Batch$/, '')}`, resource }];
};

const eventsChecks: ServiceChecks = ({ op, f, arn }) => {
  if (op !== 'PutEvents') return 'only PutEvents of EventBridge is emulated';
  return list(f.Entries).map((e) => {
    const bus = str(e.EventBusName) || 'default';
    const resource = bus.startsWith('arn:') ? bus : arn('events', `event-bus/${bus}`);
    return { action: 'events:PutEvents', resource };
  });
};

const cloudwatchChecks: ServiceChecks = ({ op }) =>
  op === 'PutMetricData'
    ? [{ action: 'cloudwatch:PutMetricData', resource: '*' }]
    : 'only PutMetricData of CloudWatch is emulated';

/** Services by their target prefix (JSON), CBOR service name, or signing name (query protocol). */
const SERVICES: Readonly<Record<string, readonly [AwsService, ServiceChecks]>> = {
  DynamoDB_20120810: ['dynamodb', dynamodbChecks],
  DynamoDBStreams_20120810: ['dynamodb-streams', streamsChecks],
  AmazonSQS: ['sqs', sqsChecks],
  sqs: ['sqs', sqsChecks],
  AWSEvents: ['events', eventsChecks],
  GraniteServiceVersion20100801: ['cloudwatch', cloudwatchChecks],
  monitoring: ['cloudwatch', cloudwatchChecks],
};

/**
 * The IAM checks one AWS API request needs, as AWS makes them: DynamoDB (the table or index ARN;
 * `TransactWriteItems` / `TransactGetItems` check each item's own action on its own table,
 * `BatchGetItem` / `BatchWriteItem` their action on each table), DynamoDB Streams (`dynamodb:`
 * actions on the stream ARN, read from the shard iterator for `GetRecords`), SQS (JSON or query
 * protocol; batch operations check the singular action), EventBridge `PutEvents` (per event
 * bus) and CloudWatch `PutMetricData` (JSON, query or CBOR). Anything else is `unsupported`,
 * saying why. ARNs are made in `env`; `iteratorStreams` names the stream of a shard iterator
 * that does not carry it.
 *
 * @example
 * requestChecks({ method: 'POST', path: '/', body: '{"TableName":"T","Item":{}}',
 *   headers: { 'x-amz-target': 'DynamoDB_20120810.PutItem' } }, env);
 * // { kind: 'checks', service: 'dynamodb', operation: 'PutItem',
 * //   checks: [{ action: 'dynamodb:PutItem', resource: 'arn:aws:dynamodb:us-east-1:000000000000:table/T' }] }
 */
export function requestChecks(
  req: AwsRequest,
  env: LocalEnv,
  iteratorStreams: (iterator: string) => string | undefined = () => undefined,
): RequestMapping {
  const target = headerOf(req, 'x-amz-target');
  const cbor = /^\/service\/([^/]+)\/operation\/([^/?]+)/.exec(req.path);
  let [key, op]: Array<string | undefined> = [];
  let f: Fields = {};
  let unreadable = false;
  if (target !== undefined) {
    [key, op] = [
      target.slice(0, target.lastIndexOf('.')),
      target.slice(target.lastIndexOf('.') + 1),
    ];
    try {
      const parsed: unknown = req.body === '' ? {} : JSON.parse(req.body);
      if (typeof parsed === 'object' && parsed !== null) f = parsed as Fields;
    } catch {
      unreadable = true;
    }
  } else if (cbor !== null) {
    [key, op] = [cbor[1], cbor[2]];
  } else if (
    (headerOf(req, 'content-type') ?? '').startsWith('application/x-www-form-urlencoded')
  ) {
    const params = new URLSearchParams(req.body);
    f = Object.fromEntries(params);
    // The query protocol names its service only in the signature's credential scope.
    const scope = /Credential=[^/]*\/[^/]*\/[^/]*\/([^/]*)\//.exec(
      headerOf(req, 'authorization') ?? '',
    );
    [key, op] = [scope?.[1], params.get('Action') ?? undefined];
  }
  const entry = key === undefined ? undefined : SERVICES[key];
  const unsupported = (reason: string): RequestMapping => ({
    kind: 'unsupported',
    service: entry?.[0],
    operation: op,
    reason,
  });
  if (op === undefined || op === '') return unsupported('the request names no operation');
  if (entry === undefined) return unsupported(`the service '${key}' is not emulated`);
  if (unreadable) return unsupported('its body is not JSON');
  const arn = (service: string, rest: string) =>
    `arn:${env.partition}:${service}:${env.region}:${env.accountId}:${rest}`;
  const checks = entry[1]({ op, f, arn, path: req.path, iteratorStreams });
  if (typeof checks === 'string') return unsupported(checks);
  const seen = new Set<string>();
  const unique = checks.filter((c) => {
    const k = `${c.action} ${c.resource}`;
    return !seen.has(k) && seen.add(k) !== undefined;
  });
  return { kind: 'checks', service: entry[0], operation: op, checks: unique };
}

// ---------------------------------------------------------------------------------------------
// Evaluation

/** Why a check was denied, in AWS's words. */
export type DenialKind =
  | 'implicit'
  | 'explicit-identity'
  | 'explicit-resource'
  | 'no-role'
  | 'not-evaluable';

/** A denied check: the action, the resource, and why. */
export interface IamDenial extends IamCheck {
  readonly kind: DenialKind;
  /** The end of AWS's message: `because no identity-based policy allows the <action> action`. */
  readonly reason: string;
  /** Which statement denied, or what the simulator could not evaluate: for the log. */
  readonly detail: string;
}

/** The decision on a request's checks: the first denial, if any. */
export type IamDecision =
  | { readonly allowed: true }
  | { readonly allowed: false; readonly denial: IamDenial };

/** Evaluates checks against a role's policies. */
export interface IamAuthorizer {
  authorize(roleLogicalId: string | undefined, checks: readonly IamCheck[]): Promise<IamDecision>;
}

/** The part of `@cloud-copilot/iam-simulate` the authorizer uses (its own types stay internal to it). */
export interface IamSimulator {
  runSimulation(simulation: object, options: object): Promise<SimulationOutput>;
  getDenialReasons(analysis: unknown): ReadonlyArray<DenialReason>;
}

/** One reason of `getDenialReasons`: the policy type (`identity`, `resource`) and statement. */
export type DenialReason = { readonly policyType: string; readonly denialType: string } & Partial<
  Readonly<Record<'policyIdentifier' | 'statementId', string> & { statementIndex: number }>
>;

/** What `runSimulation` answers, as far as the authorizer reads it. */
export type SimulationOutput =
  | { readonly resultType: 'error'; readonly errors: { readonly message: string } }
  | {
      readonly resultType: 'single' | 'wildcard';
      readonly overallResult: 'Allowed' | 'ExplicitlyDenied' | 'ImplicitlyDenied';
      readonly result?: { readonly analysis: unknown };
      readonly results?: ReadonlyArray<{ readonly analysis: unknown }>;
    };

// Not a literal: a bundler must not try to resolve a package loaded only on a developer's machine.
const IAM_SIMULATOR_MODULE = '@cloud-copilot/iam-simulate';

/** Loads `@cloud-copilot/iam-simulate`, or throws `IamSimulatorMissingError`. */
async function loadIamSimulator(): Promise<IamSimulator> {
  try {
    return (await import(IAM_SIMULATOR_MODULE)) as IamSimulator;
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    if (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') {
      throw new IamSimulatorMissingError(err);
    }
    throw err;
  }
}

/** Options of `createIamAuthorizer`: `rolePolicies`'s output and the local account. */
export interface IamAuthorizerOptions {
  readonly policiesByRole: ReadonlyMap<string, RolePolicies>;
  readonly resourcePolicies: ReadonlyMap<string, PolicyDocument>;
  readonly env: LocalEnv;
  /** Stands in for `@cloud-copilot/iam-simulate` (tests). */
  readonly loadSimulator?: () => Promise<IamSimulator>;
}

/**
 * An authorizer that evaluates checks as IAM does for a role of the template: its identity
 * policies, and the resource's policy, with `@cloud-copilot/iam-simulate` (loaded now; throws
 * `IamSimulatorMissingError` when it is not installed). The principal is the role
 * (`arn:<partition>:iam::<account>:role/<roleName>`), in the same account as every resource, so
 * an identity allow suffices unless a resource policy denies explicitly; the request is over TLS
 * (`aws:SecureTransport` true: the queue policies CDK writes deny plain HTTP). Decisions are
 * cached per role, action and resource: the template does not change while it runs. A check the
 * simulator cannot evaluate (an action it does not know, a malformed policy) is denied, saying so.
 *
 * @example
 * const { byRole, resourcePolicies } = rolePolicies(resources, env, names);
 * const authorizer = await createIamAuthorizer({ policiesByRole: byRole, resourcePolicies, env });
 * const decision = await authorizer.authorize('EvaluatorRole', [{ action: 'sqs:SendMessage', resource: queueArn }]);
 * if (!decision.allowed) console.error(decision.denial.reason);
 */
export async function createIamAuthorizer(opts: IamAuthorizerOptions): Promise<IamAuthorizer> {
  const simulator = await (opts.loadSimulator ?? loadIamSimulator)();
  const { env } = opts;
  const cache = new Map<string, Promise<IamDenial | undefined>>();

  const evaluate = async (role: RolePolicies, check: IamCheck): Promise<IamDenial | undefined> => {
    const principal = `arn:${env.partition}:iam::${env.accountId}:role/${role.roleName}`;
    const resourcePolicy = opts.resourcePolicies.get(check.resource);
    const out = await simulator.runSimulation(
      {
        request: {
          principal,
          action: check.action,
          resource: { resource: check.resource, accountId: env.accountId },
          contextVariables: {
            'aws:SecureTransport': 'true',
            'aws:PrincipalArn': principal,
            'aws:PrincipalAccount': env.accountId,
            'aws:RequestedRegion': env.region,
          },
        },
        identityPolicies: role.policies.map((p) => ({ name: p.name, policy: p.document })),
        serviceControlPolicies: [],
        resourceControlPolicies: [],
        ...(resourcePolicy === undefined ? {} : { resourcePolicy }),
      },
      {},
    );
    if (out.resultType === 'error') {
      return {
        ...check,
        kind: 'not-evaluable',
        reason: `because the local IAM simulator could not evaluate it (${out.errors.message})`,
        detail: `iam-simulate refused the request: ${JSON.stringify(out.errors)}`,
      };
    }
    if (out.overallResult === 'Allowed') return undefined;
    const analysis = out.result?.analysis ?? out.results?.[0]?.analysis;
    const explicit =
      analysis === undefined
        ? undefined
        : simulator.getDenialReasons(analysis).find((d) => d.denialType === 'Explicit');
    if (out.overallResult === 'ExplicitlyDenied' || explicit !== undefined) {
      const inResource = explicit?.policyType === 'resource';
      const statement = explicit?.statementId ?? `#${explicit?.statementIndex ?? '?'}`;
      return {
        ...check,
        kind: inResource ? 'explicit-resource' : 'explicit-identity',
        reason: `with an explicit deny in ${inResource ? 'a resource-based' : 'an identity-based'} policy`,
        detail: inResource
          ? `statement ${statement} of the resource policy of ${check.resource} denies it`
          : `statement ${statement} of policy ${explicit?.policyIdentifier ?? '?'} of role ${role.roleName} denies it`,
      };
    }
    return {
      ...check,
      kind: 'implicit',
      reason: `because no identity-based policy allows the ${check.action} action`,
      detail: `no statement of the ${role.policies.length} policies of role ${role.roleName} allows it`,
    };
  };

  return {
    async authorize(roleLogicalId, checks) {
      const role = roleLogicalId === undefined ? undefined : opts.policiesByRole.get(roleLogicalId);
      if (role === undefined) {
        const first = checks[0] ?? { action: 'unknown', resource: '*' };
        const detail =
          roleLogicalId === undefined
            ? 'the function has no role in the template'
            : `role ${roleLogicalId} is not in the template`;
        const reason = `because no identity-based policy allows the ${first.action} action`;
        return { allowed: false, denial: { ...first, kind: 'no-role', reason, detail } };
      }
      const denials = await Promise.all(
        checks.map((check) => {
          const key = `${roleLogicalId}\u0000${check.action}\u0000${check.resource}`;
          let decided = cache.get(key);
          if (decided === undefined) {
            decided = evaluate(role, check);
            cache.set(key, decided);
            // A failure of the simulator is not a decision: the next request tries again.
            decided.catch(() => cache.delete(key));
          }
          return decided;
        }),
      );
      const denial = denials.find((d) => d !== undefined);
      return denial === undefined ? { allowed: true } : { allowed: false, denial };
    },
  };
}
