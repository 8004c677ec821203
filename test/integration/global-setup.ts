/**
 * Starts DynamoDB Local and the SQS emulator once for every test file of the project that uses
 * it, and hands their endpoints to the tests through the same variables users set
 * (`TRIGGERS_DYNAMODB_ENDPOINT`, `TRIGGERS_SQS_ENDPOINT`). Endpoints already set are kept.
 */
import { startEmulators } from '../../lib/local/emulators.ts';

export default async function setup(): Promise<() => Promise<void>> {
  const emulators = await startEmulators();
  process.env.TRIGGERS_DYNAMODB_ENDPOINT = emulators.dynamodbEndpoint;
  process.env.TRIGGERS_SQS_ENDPOINT = emulators.sqsEndpoint;
  return () => emulators.stop();
}
