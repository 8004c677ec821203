/**
 * The shapes the template mode shares between its parts: a CloudFormation template as synth
 * writes it, the local account and region it is resolved against, and what one function of the
 * template is once resolved (its code folder, handler, environment and role).
 * May import: nothing (types only).
 *
 * @module
 */

/** A resource of a CloudFormation template. */
export interface CfnResource {
  readonly Type: string;
  readonly Properties?: Record<string, unknown>;
  readonly Metadata?: Record<string, unknown>;
  readonly DependsOn?: string | readonly string[];
  readonly Condition?: string;
}

/** A CloudFormation template, as far as the template mode reads it. */
export interface CfnTemplate {
  readonly Resources: Record<string, CfnResource>;
  readonly Parameters?: Record<string, { Type?: string; Default?: unknown }>;
  readonly Conditions?: Record<string, unknown>;
  readonly Outputs?: Record<string, { Value?: unknown }>;
}

/**
 * The account and region the template is resolved in: pseudo parameters (`AWS::AccountId`,
 * `AWS::Region`, `AWS::Partition`) and every ARN the mode makes or checks use them.
 *
 * @example
 * const env: LocalEnv = { accountId: '000000000000', region: 'us-east-1', partition: 'aws' };
 */
export interface LocalEnv {
  readonly accountId: string;
  readonly region: string;
  readonly partition: string;
}

/** The local account and region, unless the stack names its own. */
export const DEFAULT_LOCAL_ENV: LocalEnv = {
  accountId: '000000000000',
  region: 'us-east-1',
  partition: 'aws',
};

/**
 * One `AWS::Lambda::Function` of the template, resolved: what a local execution environment
 * needs to run it as Lambda would.
 *
 * @example
 * const fn: FunctionSpec = {
 *   logicalId: 'TriggersEvaluator9BD8951B', functionName: 'TriggersSurvey-TriggersEvaluator9BD8951B',
 *   codeDir: '/srv/cdk.out/asset.369f...', handler: 'evaluator.handler', runtime: 'nodejs22.x',
 *   timeoutSeconds: 30, memoryMb: 512, environment: { TRIGGERS_TABLE_NAME: 'TriggersSurvey-Table' },
 *   roleLogicalId: 'TriggersEvaluatorServiceRole504104D4',
 * };
 */
export interface FunctionSpec {
  /** The function's logical id in the template. */
  readonly logicalId: string;
  /** Its name (`FunctionName`, or one made from the stack name and logical id). */
  readonly functionName: string;
  /** The asset folder of its code in the cloud assembly: the bundle `cdk deploy` uploads. */
  readonly codeDir: string;
  /** `Handler`: `file.export`, the file relative to `codeDir` without its extension. */
  readonly handler: string;
  /** `Runtime`, e.g. `nodejs22.x`. */
  readonly runtime: string;
  /** `Timeout`, in seconds (CloudFormation's default: 3). */
  readonly timeoutSeconds: number;
  /** `MemorySize`, in MiB (CloudFormation's default: 128). */
  readonly memoryMb: number;
  /** `Environment.Variables`, every intrinsic resolved to the local resources. */
  readonly environment: Readonly<Record<string, string>>;
  /** The logical id of its execution role (`Role: Fn::GetAtt [Role, Arn]`), if in the template. */
  readonly roleLogicalId: string | undefined;
}

/**
 * The credentials a local function calls AWS with: the IAM endpoint of the template mode knows
 * the function (and so its role) by the access key id.
 */
export interface FunctionCredentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
}
