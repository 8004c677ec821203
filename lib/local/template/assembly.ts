/**
 * Reads what `cdk synth` wrote: a cloud assembly folder (`manifest.json`, the stack's template,
 * its asset manifest and the staged asset folders) or one template file, and finds the code
 * folder of each function and the stack's `Triggers` construct.
 * May import: base, engine, store, core, adapters, local.
 *
 * @module
 */
import {
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { DEPLOYMENT_FILE } from '../../adapters/aws-lambda/functions/deployment.ts';
import { TemplateError } from '../../errors.ts';
import { type CfnResource, type CfnTemplate, DEFAULT_LOCAL_ENV, type LocalEnv } from './model.ts';

/** A stack of the assembly, ready to run. */
export interface LoadedStack {
  /** The stack's name (its artifact id, or the template file's name). */
  readonly stackName: string;
  /** The template file. */
  readonly templateFile: string;
  readonly template: CfnTemplate;
  /** The account and region: the stack's own when synth knew them, else the local defaults. */
  readonly env: LocalEnv;
  /** Asset folders by the asset's hash (the `S3Key` of a function's code, without `.zip`). */
  readonly assets: ReadonlyMap<string, string>;
}

/** What `cdk synth` writes in `manifest.json`, as far as read here. */
interface Manifest {
  artifacts?: Record<
    string,
    {
      type?: string;
      environment?: string;
      properties?: {
        templateFile?: string;
        file?: string;
        directoryName?: string;
        stackName?: string;
      };
      displayName?: string;
    }
  >;
}

function readJson(file: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new TemplateError(file, 'cannot be read', { cause: err });
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    // JSON.parse quotes the text it choked on, newlines and all: the error is one line.
    const reason = (err instanceof Error ? err.message : String(err)).replace(/\s+/g, ' ');
    throw new TemplateError(file, `is not JSON (${reason})`, { cause: err });
  }
}

function asTemplate(value: unknown, file: string): CfnTemplate {
  const resources = (value as { Resources?: unknown } | null)?.Resources;
  if (resources === null || typeof resources !== 'object' || Array.isArray(resources)) {
    throw new TemplateError(file, 'is not a CloudFormation template (it has no Resources)');
  }
  return value as CfnTemplate;
}

/** `aws://123456789012/eu-west-1` as the local env; `unknown-account` parts keep the defaults. */
function envOf(environment: string | undefined): LocalEnv {
  const m = /^aws:\/\/([^/]+)\/(.+)$/.exec(environment ?? '');
  const account = m?.[1] && /^\d{12}$/.test(m[1]) ? m[1] : DEFAULT_LOCAL_ENV.accountId;
  const region = m?.[2] && !m[2].startsWith('unknown') ? m[2] : DEFAULT_LOCAL_ENV.region;
  const partition = region.startsWith('cn-')
    ? 'aws-cn'
    : region.startsWith('us-gov-')
      ? 'aws-us-gov'
      : 'aws';
  return { accountId: account, region, partition };
}

/** The asset folders an asset manifest (`<stack>.assets.json`) lists, by hash. */
function assetsOf(manifestFile: string, into: Map<string, string>): void {
  if (!existsSync(manifestFile)) return;
  const files = (
    readJson(manifestFile) as { files?: Record<string, { source?: { path?: string } }> }
  ).files;
  for (const [hash, asset] of Object.entries(files ?? {})) {
    if (asset.source?.path !== undefined) {
      into.set(hash, resolve(dirname(manifestFile), asset.source.path));
    }
  }
}

/** A stack of the assembly and every name `--stack` may pick it by. */
interface Candidate {
  readonly stack: LoadedStack;
  /** Its stack name, its artifact id and its display name (`Stage/Stack`). */
  readonly names: readonly string[];
}

/** Every stack of an assembly folder, nested stages included, with the asset manifests. */
function stacksOf(dir: string): Candidate[] {
  const manifestFile = join(dir, 'manifest.json');
  const manifest = readJson(manifestFile) as Manifest;
  const assets = new Map<string, string>();
  for (const artifact of Object.values(manifest.artifacts ?? {})) {
    if (artifact.type === 'cdk:asset-manifest' && artifact.properties?.file) {
      assetsOf(join(dir, artifact.properties.file), assets);
    }
  }
  const stacks: Candidate[] = [];
  for (const [id, artifact] of Object.entries(manifest.artifacts ?? {})) {
    if (artifact.type === 'cdk:cloud-assembly' && artifact.properties?.directoryName) {
      stacks.push(...stacksOf(join(dir, artifact.properties.directoryName)));
    }
    if (artifact.type !== 'aws:cloudformation:stack' || !artifact.properties?.templateFile)
      continue;
    const templateFile = join(dir, artifact.properties.templateFile);
    // Synth writes `stackName` only when it differs from the artifact id (stacks of a stage).
    const stackName =
      artifact.properties.stackName ?? artifact.displayName?.replace(/\//g, '-') ?? id;
    stacks.push({
      stack: {
        stackName,
        templateFile,
        template: asTemplate(readJson(templateFile), templateFile),
        env: envOf(artifact.environment),
        assets,
      },
      names: [stackName, id, ...(artifact.displayName !== undefined ? [artifact.displayName] : [])],
    });
  }
  return stacks;
}

/** One template file, its assets found through the asset manifest beside it, if any. */
function stackOfFile(file: string): Candidate {
  const stackName = basename(file).replace(/\.template\.json$|\.json$/, '');
  const assets = new Map<string, string>();
  assetsOf(join(dirname(file), `${stackName}.assets.json`), assets);
  return {
    stack: {
      stackName,
      templateFile: file,
      template: asTemplate(readJson(file), file),
      env: DEFAULT_LOCAL_ENV,
      assets,
    },
    names: [stackName],
  };
}

/** The functions of a template, by logical id. */
function functionsOf(stack: LoadedStack): Array<[string, CfnResource]> {
  return Object.entries(stack.template.Resources).filter(
    ([, r]) => r.Type === 'AWS::Lambda::Function',
  );
}

/**
 * True when the stack holds a `Triggers` construct: its evaluator, a function whose handler is
 * `evaluator.handler` and whose code is a deployment of this package (the pre-bundled functions
 * beside the deployment's `app.json`).
 */
function hasTriggers(stack: LoadedStack): boolean {
  return functionsOf(stack).some(([id, r]) => {
    const code = r.Properties?.Code as { ZipFile?: unknown } | undefined;
    // Inline code is never a deployment: no need to write it out to find that.
    if (r.Properties?.Handler !== 'evaluator.handler' || code?.ZipFile !== undefined) return false;
    try {
      return existsSync(join(functionCodeDir(stack, id, r), DEPLOYMENT_FILE));
    } catch {
      return false;
    }
  });
}

/** Throws `TemplateError` naming the first function whose code is not in the assembly. */
function checkFunctionCode(stack: LoadedStack): void {
  for (const [id, r] of functionsOf(stack)) {
    const code = r.Properties?.Code as { ZipFile?: unknown } | undefined;
    if (typeof code?.ZipFile !== 'string') functionCodeDir(stack, id, r);
  }
}

/**
 * Loads the stack to run from `path`: a cloud assembly folder (`cdk.out`), or a template file.
 * An assembly with several stacks runs the one with a `Triggers` construct (`stack` picks one
 * by its stack name, artifact id or display name when several have one). Throws `TemplateError`
 * naming the file for a path that holds no assembly or template, and for a stack without a
 * `Triggers` construct; naming the function when a function's code is not in the assembly.
 *
 * @example
 * const stack = loadStack('cdk.out');
 * console.log(stack.stackName, Object.keys(stack.template.Resources).length);
 */
export function loadStack(path: string, stack?: string): LoadedStack {
  const at = resolve(path);
  if (!existsSync(at)) throw new TemplateError(path, 'no such file or folder');
  let stacks: Candidate[];
  if (statSync(at).isDirectory()) {
    if (existsSync(join(at, 'manifest.json'))) {
      stacks = stacksOf(at);
    } else {
      const templates = readdirSync(at).filter((f) => f.endsWith('.template.json'));
      if (templates.length === 0) {
        throw new TemplateError(
          path,
          'holds no cloud assembly (manifest.json) and no *.template.json: run cdk synth first',
        );
      }
      stacks = templates.map((f) => stackOfFile(join(at, f)));
    }
  } else {
    stacks = [stackOfFile(at)];
  }
  if (stacks.length === 0) throw new TemplateError(path, 'the cloud assembly holds no stack');
  const named = (stack === undefined ? stacks : stacks.filter((s) => s.names.includes(stack))).map(
    (s) => s.stack,
  );
  if (named.length === 0) {
    throw new TemplateError(
      path,
      `has no stack '${stack}' (it has ${stacks.map((s) => s.stack.stackName).join(', ')})`,
    );
  }
  const withTriggers = named.filter(hasTriggers);
  const [first, second] = withTriggers;
  if (first === undefined) {
    // A lone stack whose evaluator's asset is missing says that, not "no Triggers".
    const [only, other] = named;
    if (only !== undefined && other === undefined) checkFunctionCode(only);
    const files = named.map((s) => s.templateFile).join(', ');
    throw new TemplateError(
      files,
      'has no Triggers construct (no function runs a serverless-triggers deployment)',
    );
  }
  if (second !== undefined) {
    throw new TemplateError(
      path,
      `has several stacks with a Triggers construct (${withTriggers.map((s) => s.stackName).join(', ')}): name one with --stack`,
    );
  }
  // Every function's code is found now, before anything starts.
  checkFunctionCode(first);
  return first;
}

/**
 * The folder of a function's code: its asset folder in the assembly (by the `S3Key` hash or
 * the `aws:asset:path` metadata), or inline `ZipFile` code written to a folder of its own.
 * Throws `TemplateError` naming the function when the asset is missing or not a folder.
 *
 * @example
 * functionCodeDir(stack, 'TriggersEvaluator9BD8951B', stack.template.Resources.TriggersEvaluator9BD8951B);
 */
export function functionCodeDir(
  stack: LoadedStack,
  logicalId: string,
  resource: CfnResource,
): string {
  const code = (resource.Properties?.Code ?? {}) as Record<string, unknown>;
  if (typeof code.ZipFile === 'string') {
    const dir = mkdtempSync(join(tmpdir(), 'triggers-inline-'));
    writeFileSync(join(dir, 'index.js'), code.ZipFile);
    return dir;
  }
  if (code.ImageUri !== undefined) {
    throw new TemplateError(logicalId, 'container image functions are not emulated');
  }
  const metaPath = resource.Metadata?.['aws:asset:path'];
  const key = typeof code.S3Key === 'string' ? code.S3Key.replace(/\.zip$/, '') : undefined;
  const dir =
    (key !== undefined ? stack.assets.get(key) : undefined) ??
    (typeof metaPath === 'string' ? resolve(dirname(stack.templateFile), metaPath) : undefined);
  if (dir === undefined) {
    throw new TemplateError(
      logicalId,
      `its code asset${key ? ` ${key}` : ''} is not in the assembly's asset manifest`,
    );
  }
  if (!existsSync(dir)) throw new TemplateError(logicalId, `its code asset ${dir} is missing`);
  if (!statSync(dir).isDirectory()) {
    throw new TemplateError(
      logicalId,
      `its code asset ${dir} is a file (a prebuilt .zip is not emulated)`,
    );
  }
  return dir;
}
