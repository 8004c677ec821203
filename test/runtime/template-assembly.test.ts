/**
 * Reading what `cdk synth` wrote, without emulators: `loadStack` on small cloud assemblies
 * written to a temp dir (a manifest, a template, an asset manifest and asset folders), the
 * code folder of each function, and the resource types the template mode runs, skips or
 * refuses. Every refusal is a `TemplateError` naming the file or the logical id at fault.
 */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TemplateError } from '../../lib/errors.ts';
import { functionCodeDir, loadStack } from '../../lib/local/template/assembly.ts';
import {
  type CfnResource,
  type CfnTemplate,
  DEFAULT_LOCAL_ENV,
} from '../../lib/local/template/model.ts';
import { inventory, physicalName, queueCreationOrder } from '../../lib/local/template/resources.ts';
import { thrownBy } from './fixtures.ts';

let root: string;
let count = 0;

/** A fresh folder under the test's temp dir. */
function folder(name: string): string {
  count += 1;
  const dir = join(root, `${count}-${name}`);
  mkdirSync(dir, { recursive: true });
  return dir;
}

/** The asset hashes of the fixtures (what synth names `asset.<hash>` and keys `<hash>.zip`). */
const TRIGGERS_ASSET = '369fdd63544214a6450a00c941ec553acc467a36a72d0b4d155134eda1d568fe';
const TASK_ASSET = '938ca7462bc043be7c9fc1f139b19ba8fad001f98caf6041a3072319ea1dec00';

/** A function as synth writes one: its code in the assets bucket under the asset's hash. */
function lambda(asset: string, handler: string): CfnResource {
  return {
    Type: 'AWS::Lambda::Function',
    Properties: {
      Code: {
        // biome-ignore lint/suspicious/noTemplateCurlyInString: Fn::Sub's ${...} is CloudFormation's
        S3Bucket: { 'Fn::Sub': 'cdk-hnb659fds-assets-${AWS::AccountId}-${AWS::Region}' },
        S3Key: `${asset}.zip`,
      },
      Handler: handler,
      Runtime: 'nodejs22.x',
      Role: { 'Fn::GetAtt': ['EvaluatorRole', 'Arn'] },
    },
  };
}

/** A template with a `Triggers` construct: its evaluator, and a task handler. */
function triggersTemplate(extra: Record<string, CfnResource> = {}): CfnTemplate {
  return {
    Resources: {
      TriggersTableE79C50E7: { Type: 'AWS::DynamoDB::Table', Properties: {} },
      EvaluatorRole: { Type: 'AWS::IAM::Role', Properties: {} },
      TriggersEvaluator9BD8951B: lambda(TRIGGERS_ASSET, 'evaluator.handler'),
      TaskscoreC0FFEE01: lambda(TASK_ASSET, 'index.handler'),
      ...extra,
    },
  };
}

/** A template without one: a lone function of someone else's. */
function plainTemplate(): CfnTemplate {
  return {
    Resources: { Worker0A1B2C3D: lambda(TASK_ASSET, 'index.handler') },
  };
}

interface StackFixture {
  readonly id: string;
  readonly template: CfnTemplate | string;
  readonly environment?: string;
  /** Stage stacks: the name synth writes in `properties.stackName`, and the display name. */
  readonly stackName?: string;
  readonly displayName?: string;
}

/** Writes the asset folders: the Triggers deployment (with its `app.json`) and a task bundle. */
function writeAssets(dir: string, omit: readonly string[] = []): void {
  if (!omit.includes(TRIGGERS_ASSET)) {
    const triggers = join(dir, `asset.${TRIGGERS_ASSET}`);
    mkdirSync(triggers, { recursive: true });
    writeFileSync(join(triggers, 'app.json'), '{"workflows":[]}');
    writeFileSync(join(triggers, 'evaluator.mjs'), 'export const handler = async () => {};');
  }
  if (!omit.includes(TASK_ASSET)) {
    const task = join(dir, `asset.${TASK_ASSET}`);
    mkdirSync(task, { recursive: true });
    writeFileSync(join(task, 'index.mjs'), 'export const handler = async () => {};');
  }
}

/** The asset manifest synth writes beside a stack's template. */
function assetManifest(): string {
  const files = Object.fromEntries(
    [TRIGGERS_ASSET, TASK_ASSET].map((hash) => [
      hash,
      { source: { path: `asset.${hash}`, packaging: 'zip' }, destinations: {} },
    ]),
  );
  return JSON.stringify({ version: '55.0.0', files });
}

/** A cloud assembly folder: `manifest.json`, each stack's template and asset manifest, assets. */
function writeAssembly(
  dir: string,
  stacks: readonly StackFixture[],
  opts: { omitAssets?: readonly string[] } = {},
): string {
  const artifacts: Record<string, unknown> = {};
  for (const s of stacks) {
    artifacts[`${s.id}.assets`] = {
      type: 'cdk:asset-manifest',
      properties: { file: `${s.id}.assets.json` },
    };
    artifacts[s.id] = {
      type: 'aws:cloudformation:stack',
      environment: s.environment ?? 'aws://unknown-account/unknown-region',
      properties: {
        templateFile: `${s.id}.template.json`,
        ...(s.stackName !== undefined ? { stackName: s.stackName } : {}),
      },
      dependencies: [`${s.id}.assets`],
      displayName: s.displayName ?? s.id,
    };
    writeFileSync(join(dir, `${s.id}.assets.json`), assetManifest());
    writeFileSync(
      join(dir, `${s.id}.template.json`),
      typeof s.template === 'string' ? s.template : JSON.stringify(s.template),
    );
  }
  artifacts.Tree = { type: 'cdk:tree', properties: { file: 'tree.json' } };
  writeFileSync(join(dir, 'manifest.json'), JSON.stringify({ version: '55.0.0', artifacts }));
  writeAssets(dir, opts.omitAssets);
  return dir;
}

/** The `TemplateError` a call throws; fails on another error or none. */
function templateErrorOf(fn: () => unknown): TemplateError {
  const err = thrownBy(fn);
  expect(err).toBeInstanceOf(TemplateError);
  return err as TemplateError;
}

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'triggers-assembly-'));
});

afterAll(() => {
  rmSync(root, { recursive: true, force: true });
});

describe('loadStack: what synth wrote, found', () => {
  it('loads the one stack of an assembly, with its template and asset folders', () => {
    const dir = writeAssembly(folder('one'), [{ id: 'Survey', template: triggersTemplate() }]);
    const stack = loadStack(dir);
    expect(stack.stackName).toBe('Survey');
    expect(stack.templateFile).toBe(join(dir, 'Survey.template.json'));
    expect(Object.keys(stack.template.Resources)).toContain('TriggersEvaluator9BD8951B');
    expect(stack.assets.get(TRIGGERS_ASSET)).toBe(join(dir, `asset.${TRIGGERS_ASSET}`));
    expect(stack.assets.get(TASK_ASSET)).toBe(join(dir, `asset.${TASK_ASSET}`));
  });

  it("finds each function's code folder by the hash in its S3Key", () => {
    const dir = writeAssembly(folder('code'), [{ id: 'Survey', template: triggersTemplate() }]);
    const stack = loadStack(dir);
    const { Resources } = stack.template;
    const evaluator = functionCodeDir(
      stack,
      'TriggersEvaluator9BD8951B',
      Resources.TriggersEvaluator9BD8951B as CfnResource,
    );
    expect(readdirSync(evaluator).sort()).toEqual(['app.json', 'evaluator.mjs']);
    expect(
      functionCodeDir(stack, 'TaskscoreC0FFEE01', Resources.TaskscoreC0FFEE01 as CfnResource),
    ).toBe(join(dir, `asset.${TASK_ASSET}`));
  });

  it('finds the code of a function by its aws:asset:path metadata when it has no S3Key', () => {
    const dir = writeAssembly(folder('meta'), [{ id: 'Survey', template: triggersTemplate() }]);
    const stack = loadStack(dir);
    const fn: CfnResource = {
      Type: 'AWS::Lambda::Function',
      Properties: { Code: {}, Handler: 'index.handler', Runtime: 'nodejs22.x' },
      Metadata: { 'aws:asset:path': `asset.${TASK_ASSET}` },
    };
    expect(functionCodeDir(stack, 'ByMetadata', fn)).toBe(join(dir, `asset.${TASK_ASSET}`));
  });

  it('writes inline ZipFile code to a folder of its own, as index.js', () => {
    const source = 'exports.handler = async () => "inline";';
    const dir = writeAssembly(folder('inline'), [
      {
        id: 'Survey',
        template: triggersTemplate({
          InlineFn: {
            Type: 'AWS::Lambda::Function',
            Properties: {
              Code: { ZipFile: source },
              Handler: 'index.handler',
              Runtime: 'nodejs22.x',
            },
          },
        }),
      },
    ]);
    const inlineDirs = () =>
      readdirSync(tmpdir()).filter((name) => name.startsWith('triggers-inline-'));
    const before = inlineDirs();
    const stack = loadStack(dir);
    // Loading writes nothing: only asking for the function's code does.
    expect(inlineDirs()).toEqual(before);
    const code = functionCodeDir(
      stack,
      'InlineFn',
      stack.template.Resources.InlineFn as CfnResource,
    );
    try {
      expect(readFileSync(join(code, 'index.js'), 'utf8')).toBe(source);
    } finally {
      rmSync(code, { recursive: true, force: true });
    }
  });

  it("takes the account and region from the manifest's environment", () => {
    const dir = writeAssembly(folder('env'), [
      { id: 'Survey', template: triggersTemplate(), environment: 'aws://123456789012/eu-west-1' },
    ]);
    expect(loadStack(dir).env).toEqual({
      accountId: '123456789012',
      region: 'eu-west-1',
      partition: 'aws',
    });
  });

  it('keeps the local defaults for an environment synth did not know', () => {
    const dir = writeAssembly(folder('unknown-env'), [
      {
        id: 'Survey',
        template: triggersTemplate(),
        environment: 'aws://unknown-account/unknown-region',
      },
    ]);
    expect(loadStack(dir).env).toEqual(DEFAULT_LOCAL_ENV);
  });

  it('takes the partition from the region', () => {
    const dir = writeAssembly(folder('cn'), [
      { id: 'Survey', template: triggersTemplate(), environment: 'aws://123456789012/cn-north-1' },
    ]);
    expect(loadStack(dir).env).toEqual({
      accountId: '123456789012',
      region: 'cn-north-1',
      partition: 'aws-cn',
    });
  });

  it('loads a template file given directly, its assets found through <Stack>.assets.json', () => {
    const dir = writeAssembly(folder('file'), [{ id: 'Survey', template: triggersTemplate() }]);
    const stack = loadStack(join(dir, 'Survey.template.json'));
    expect(stack.stackName).toBe('Survey');
    expect(stack.env).toEqual(DEFAULT_LOCAL_ENV);
    expect(stack.assets.get(TRIGGERS_ASSET)).toBe(join(dir, `asset.${TRIGGERS_ASSET}`));
  });

  it('loads the templates of a folder without manifest.json', () => {
    const dir = folder('templates-only');
    writeFileSync(join(dir, 'Survey.template.json'), JSON.stringify(triggersTemplate()));
    writeFileSync(join(dir, 'Survey.assets.json'), assetManifest());
    writeAssets(dir);
    expect(loadStack(dir).templateFile).toBe(join(dir, 'Survey.template.json'));
  });
});

describe('loadStack: which stack of several', () => {
  it('picks the one stack with a Triggers construct', () => {
    const dir = writeAssembly(folder('two'), [
      { id: 'Network', template: plainTemplate() },
      { id: 'Survey', template: triggersTemplate() },
    ]);
    expect(loadStack(dir).stackName).toBe('Survey');
  });

  it('refuses two stacks with a Triggers construct without --stack, naming both', () => {
    const dir = writeAssembly(folder('both'), [
      { id: 'SurveyBlue', template: triggersTemplate() },
      { id: 'SurveyGreen', template: triggersTemplate() },
    ]);
    const err = templateErrorOf(() => loadStack(dir));
    expect(err.where).toBe(dir);
    expect(err.message).toMatch(/several stacks with a Triggers construct/);
    expect(err.message).toMatch(/SurveyBlue, SurveyGreen\): name one with --stack/);
  });

  it('picks a stack by name with --stack', () => {
    const dir = writeAssembly(folder('named'), [
      { id: 'SurveyBlue', template: triggersTemplate() },
      { id: 'SurveyGreen', template: triggersTemplate() },
    ]);
    const stack = loadStack(dir, 'SurveyGreen');
    expect(stack.stackName).toBe('SurveyGreen');
    expect(stack.templateFile).toBe(join(dir, 'SurveyGreen.template.json'));
  });

  it('picks a stack of a stage by its stack name or its display name', () => {
    const dir = folder('stage');
    const nested = join(dir, 'assembly-Prod');
    mkdirSync(nested);
    writeAssembly(nested, [
      {
        id: 'ProdSurvey1A2B3C4D',
        stackName: 'Prod-Survey',
        displayName: 'Prod/Survey',
        template: triggersTemplate(),
      },
    ]);
    writeFileSync(
      join(dir, 'manifest.json'),
      JSON.stringify({
        version: '55.0.0',
        artifacts: {
          'assembly-Prod': {
            type: 'cdk:cloud-assembly',
            properties: { directoryName: 'assembly-Prod', displayName: 'Prod' },
          },
        },
      }),
    );
    expect(loadStack(dir).stackName).toBe('Prod-Survey');
    expect(loadStack(dir, 'Prod/Survey').stackName).toBe('Prod-Survey');
    expect(loadStack(dir, 'Prod-Survey').templateFile).toBe(
      join(nested, 'ProdSurvey1A2B3C4D.template.json'),
    );
  });

  it('refuses a --stack the assembly does not have, naming the stacks it has', () => {
    const dir = writeAssembly(folder('no-such-stack'), [
      { id: 'Network', template: plainTemplate() },
      { id: 'Survey', template: triggersTemplate() },
    ]);
    const err = templateErrorOf(() => loadStack(dir, 'Billing'));
    expect(err.message).toBe(`${dir}: has no stack 'Billing' (it has Network, Survey)`);
  });

  it('refuses a --stack without a Triggers construct, naming its template', () => {
    const dir = writeAssembly(folder('picked-plain'), [
      { id: 'Network', template: plainTemplate() },
      { id: 'Survey', template: triggersTemplate() },
    ]);
    const err = templateErrorOf(() => loadStack(dir, 'Network'));
    expect(err.where).toBe(join(dir, 'Network.template.json'));
    expect(err.message).toMatch(/has no Triggers construct/);
  });
});

describe('loadStack: what it refuses, naming the file or function', () => {
  it('refuses a path that does not exist', () => {
    const missing = join(root, 'nowhere', 'cdk.out');
    const err = templateErrorOf(() => loadStack(missing));
    expect(err.where).toBe(missing);
    expect(err.message).toBe(`${missing}: no such file or folder`);
  });

  it('refuses a folder with no manifest.json and no *.template.json', () => {
    const dir = folder('empty');
    writeFileSync(join(dir, 'notes.txt'), 'nothing synthesized here');
    const err = templateErrorOf(() => loadStack(dir));
    expect(err.where).toBe(dir);
    expect(err.message).toMatch(/no cloud assembly \(manifest\.json\) and no \*\.template\.json/);
  });

  it('refuses a template that is not JSON, on one line', () => {
    const dir = folder('not-json');
    const file = join(dir, 'Survey.template.json');
    writeFileSync(file, 'Resources:\n  Table:\n    Type: AWS::DynamoDB::Table\n');
    const err = templateErrorOf(() => loadStack(file));
    expect(err.where).toBe(file);
    expect(err.message).toMatch(/Survey\.template\.json: is not JSON \(/);
    expect(err.message).not.toContain('\n');
  });

  it('refuses a manifest.json that is not JSON, naming it', () => {
    const dir = folder('bad-manifest');
    writeFileSync(join(dir, 'manifest.json'), '{ "version": ');
    const err = templateErrorOf(() => loadStack(dir));
    expect(err.where).toBe(join(dir, 'manifest.json'));
    expect(err.message).toMatch(/is not JSON/);
  });

  it('refuses a JSON file without Resources', () => {
    const dir = folder('no-resources');
    const file = join(dir, 'cdk.json');
    writeFileSync(file, JSON.stringify({ app: 'npx tsx bin/app.ts', context: {} }));
    const err = templateErrorOf(() => loadStack(file));
    expect(err.where).toBe(file);
    expect(err.message).toMatch(/is not a CloudFormation template \(it has no Resources\)/);
  });

  it("refuses a stack's template without Resources, naming the template", () => {
    const dir = writeAssembly(folder('stack-no-resources'), [
      { id: 'Survey', template: '{"AWSTemplateFormatVersion":"2010-09-09"}' },
    ]);
    const err = templateErrorOf(() => loadStack(dir));
    expect(err.where).toBe(join(dir, 'Survey.template.json'));
  });

  it('refuses a template without a Triggers construct', () => {
    const dir = writeAssembly(folder('plain'), [{ id: 'Network', template: plainTemplate() }]);
    const err = templateErrorOf(() => loadStack(dir));
    expect(err.where).toBe(join(dir, 'Network.template.json'));
    expect(err.message).toMatch(/Network\.template\.json: has no Triggers construct/);
  });

  it("does not take a deployment's function other than its evaluator for a Triggers construct", () => {
    // The ingest function runs from the same asset (app.json beside it), but is no evaluator.
    const template: CfnTemplate = {
      Resources: { TriggersIngest02F2A3A9: lambda(TRIGGERS_ASSET, 'ingest.handler') },
    };
    const dir = writeAssembly(folder('ingest-only'), [{ id: 'Survey', template }]);
    expect(templateErrorOf(() => loadStack(dir)).message).toMatch(/has no Triggers construct/);
  });

  it("refuses a function whose asset folder is missing, naming the function's logical id", () => {
    const dir = writeAssembly(folder('missing-task-asset'), [
      { id: 'Survey', template: triggersTemplate() },
    ]);
    rmSync(join(dir, `asset.${TASK_ASSET}`), { recursive: true });
    const err = templateErrorOf(() => loadStack(dir));
    expect(err.where).toBe('TaskscoreC0FFEE01');
    expect(err.message).toMatch(/^TaskscoreC0FFEE01: its code asset .* is missing$/);
  });

  it("names the evaluator when its own asset folder is missing, not 'no Triggers'", () => {
    const dir = writeAssembly(folder('missing-evaluator-asset'), [
      { id: 'Survey', template: triggersTemplate() },
    ]);
    rmSync(join(dir, `asset.${TRIGGERS_ASSET}`), { recursive: true });
    const err = templateErrorOf(() => loadStack(dir));
    expect(err.where).toBe('TriggersEvaluator9BD8951B');
    expect(err.message).toMatch(/its code asset .*asset\.369fdd.* is missing/);
  });

  it('refuses a function whose asset is not in the asset manifest, naming it', () => {
    const unknown = 'f'.repeat(64);
    const dir = writeAssembly(folder('unlisted-asset'), [
      { id: 'Survey', template: triggersTemplate({ Stray1234: lambda(unknown, 'index.handler') }) },
    ]);
    const err = templateErrorOf(() => loadStack(dir));
    expect(err.where).toBe('Stray1234');
    expect(err.message).toMatch(/its code asset f+ is not in the assembly's asset manifest/);
  });

  it('refuses an asset that is a prebuilt zip file, and a container image function', () => {
    const dir = writeAssembly(folder('zip'), [{ id: 'Survey', template: triggersTemplate() }]);
    const stack = loadStack(dir);
    writeFileSync(join(dir, 'bundle.zip'), 'PK');
    const zipped: CfnResource = {
      Type: 'AWS::Lambda::Function',
      Properties: { Code: {} },
      Metadata: { 'aws:asset:path': 'bundle.zip' },
    };
    expect(templateErrorOf(() => functionCodeDir(stack, 'Zipped', zipped)).message).toMatch(
      /^Zipped: its code asset .*bundle\.zip is a file/,
    );
    const image: CfnResource = {
      Type: 'AWS::Lambda::Function',
      Properties: { Code: { ImageUri: '123456789012.dkr.ecr.eu-west-1.amazonaws.com/fn:1' } },
    };
    expect(templateErrorOf(() => functionCodeDir(stack, 'Image', image)).message).toBe(
      'Image: container image functions are not emulated',
    );
  });
});

describe('inventory: the resource types the mode runs, skips or refuses', () => {
  it('refuses a type it does not emulate, naming the logical id and the type', () => {
    const template = triggersTemplate({ UploadsBucket5A4B3C2D: { Type: 'AWS::S3::Bucket' } });
    const err = templateErrorOf(() => inventory(template));
    expect(err.where).toBe('UploadsBucket5A4B3C2D');
    expect(err.message).toBe(
      'UploadsBucket5A4B3C2D: resource type AWS::S3::Bucket is not emulated by the template mode',
    );
  });

  it('lists alarms, log groups and dashboards as skipped, not refused', () => {
    const template = triggersTemplate({
      EvaluatorErrorsAlarm: { Type: 'AWS::CloudWatch::Alarm' },
      EvaluatorLogs: { Type: 'AWS::Logs::LogGroup' },
      TriggersDashboard: { Type: 'AWS::CloudWatch::Dashboard' },
      CDKMetadata: { Type: 'AWS::CDK::Metadata' },
    });
    expect(inventory(template).skipped).toEqual([
      ['EvaluatorErrorsAlarm', 'AWS::CloudWatch::Alarm'],
      ['EvaluatorLogs', 'AWS::Logs::LogGroup'],
      ['TriggersDashboard', 'AWS::CloudWatch::Dashboard'],
      ['CDKMetadata', 'AWS::CDK::Metadata'],
    ]);
  });

  it('runs the emulated types and custom resources without listing them', () => {
    const template = triggersTemplate({
      Queue: { Type: 'AWS::SQS::Queue' },
      Mapping: { Type: 'AWS::Lambda::EventSourceMapping' },
      Version: { Type: 'Custom::TriggersWorkflowVersion' },
      Api: { Type: 'AWS::ApiGatewayV2::Api' },
      Schedule: { Type: 'AWS::Events::Rule' },
    });
    expect(inventory(template).skipped).toEqual([]);
  });
});

describe('physicalName and queueCreationOrder', () => {
  it('names a resource by stack, run and logical id, within the limit', () => {
    expect(physicalName('TriggersSurvey', 'a1b2c3', 'TriggersTableE79C50E7', 255)).toBe(
      'TriggersSurvey-a1b2c3-TriggersTableE79C50E7',
    );
  });

  it('keeps two long logical ids that differ only at the end apart when it cuts them', () => {
    const a = physicalName(
      'TriggersSurvey',
      'a1b2c3',
      'AWS679f53fac002430cb0da5b7982bd22872D164C4C',
      64,
    );
    const b = physicalName(
      'TriggersSurvey',
      'a1b2c3',
      'AWS679f53fac002430cb0da5b7982bd22872D164C4D',
      64,
    );
    expect(a).toHaveLength(64);
    expect(b).toHaveLength(64);
    expect(a).not.toBe(b);
    expect(a.startsWith('TriggersSurvey-a1b2c3-AWS679f53')).toBe(true);
  });

  it('creates each dead-letter queue before the queues redriving to it, either GetAtt form', () => {
    const redrive = (getAtt: unknown) => ({
      RedrivePolicy: { deadLetterTargetArn: { 'Fn::GetAtt': getAtt }, maxReceiveCount: 3 },
    });
    expect(
      queueCreationOrder([
        ['Tasks', redrive(['TasksDlq', 'Arn'])],
        ['Retries', redrive('RetriesDlq.Arn')],
        ['TasksDlq', {}],
        ['RetriesDlq', {}],
      ]),
    ).toEqual(['TasksDlq', 'Tasks', 'RetriesDlq', 'Retries']);
  });
});
