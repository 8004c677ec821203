/**
 * The names of the environment variables the construct sets and the functions read, once:
 * the construct imports them, `settingsFromEnv` and the EventBridge runtime parse them.
 * May import: nothing.
 *
 * @module
 */

/**
 * Environment variables of a deployment's functions.
 *
 * | variable | required | meaning |
 * |---|---|---|
 * | `TRIGGERS_TABLE_NAME` | yes | the session table |
 * | `TRIGGERS_QUEUE_URLS` | to send tasks | JSON object, queue name (a task's `using ?? run`) → queue URL |
 * | `TRIGGERS_DYNAMODB_ENDPOINT` | no | a DynamoDB endpoint other than AWS's (LocalStack, DynamoDB Local) |
 * | `TRIGGERS_SQS_ENDPOINT` | no | an SQS endpoint other than AWS's |
 * | `TRIGGERS_FUNCTION_TIMEOUT_SECONDS` | no | the task function's timeout; sets the claim lease |
 * | `TRIGGERS_LOG_LEVEL` | no | `debug`, `info` (default), `warn` or `error` |
 * | `TRIGGERS_SESSION_TTL_SECONDS` | no | how long items live after their last write (default 90 days) |
 * | `TRIGGERS_STALE_INDEX` | no | the table's stale index: heads with unstarted instances are kept in it, `GET /stale` queries it |
 * | `TRIGGERS_STALE_AFTER_SECONDS` | the stale-sessions function | the age after which an unstarted instance counts as stale |
 * | `TRIGGERS_EVENT_MAPPING` | an EventBridge ingestion function | the `EventMapping`, as JSON |
 * | `TRIGGERS_EVENT_WORKFLOW` | no | the workflow sessions created by those events get |
 * | `TRIGGERS_DEAD_LETTER_QUEUE_URL` | an EventBridge ingestion function | where events whose mapped fire is invalid go |
 * | `TRIGGERS_LIFECYCLE` | no | `1`: the evaluator notes what each evaluation did in the head, for the lifecycle publisher |
 * | `TRIGGERS_EVENT_BUS_NAME` | the lifecycle function | the event bus (name or ARN) lifecycle events are put on |
 * | `AWS_REGION` | no | set by Lambda; else the SDK's own resolution |
 *
 * @example
 * fn.addEnvironment(ENV.tableName, table.tableName);
 */
export const ENV = {
  tableName: 'TRIGGERS_TABLE_NAME',
  queueUrls: 'TRIGGERS_QUEUE_URLS',
  dynamodbEndpoint: 'TRIGGERS_DYNAMODB_ENDPOINT',
  sqsEndpoint: 'TRIGGERS_SQS_ENDPOINT',
  functionTimeoutSeconds: 'TRIGGERS_FUNCTION_TIMEOUT_SECONDS',
  logLevel: 'TRIGGERS_LOG_LEVEL',
  sessionTtlSeconds: 'TRIGGERS_SESSION_TTL_SECONDS',
  staleIndex: 'TRIGGERS_STALE_INDEX',
  staleAfterSeconds: 'TRIGGERS_STALE_AFTER_SECONDS',
  eventMapping: 'TRIGGERS_EVENT_MAPPING',
  eventWorkflow: 'TRIGGERS_EVENT_WORKFLOW',
  deadLetterQueueUrl: 'TRIGGERS_DEAD_LETTER_QUEUE_URL',
  lifecycle: 'TRIGGERS_LIFECYCLE',
  eventBusName: 'TRIGGERS_EVENT_BUS_NAME',
  region: 'AWS_REGION',
} as const;
