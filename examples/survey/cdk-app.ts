/**
 * The example CDK app of `cdk.json` (`npx cdk synth`, `npx cdk deploy`), with cdk-nag's checks;
 * its stack has no `env`, so it synthesizes offline for any account and region.
 * May import: the package's public entry points (lib/index.ts, infra/index.ts), aws-cdk-lib,
 * cdk-nag and its siblings.
 *
 * @module
 */
import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { SurveyStack } from './stack.ts';

const app = new App();
new SurveyStack(app, 'TriggersSurvey');
Validations.of(app).addPlugins(new AwsSolutionsChecks(app, { verbose: true }));
app.synth();
