/**
 * The example CDK app: `npx cdk synth` / `npx cdk deploy` (see `cdk.json`). The stack has no
 * `env`, so it synthesizes offline, without credentials, for any account and region.
 *
 * @module
 */
import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { SurveyStack } from './example-stack.ts';

const app = new App();
new SurveyStack(app, 'TriggersSurvey');
Validations.of(app).addPlugins(new AwsSolutionsChecks(app, { verbose: true }));
app.synth();
