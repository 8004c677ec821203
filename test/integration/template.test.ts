/**
 * The template mode runs what `cdk deploy` deploys: the example survey stack, synthesized, runs
 * from its assets behind the IAM endpoint and passes the smoke test with no denied call; and
 * copies of the assembly with one thing broken fail, each naming what broke.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { handlers } from '../../examples/survey/app.ts';
import { runSurveySmoke } from '../../examples/survey/smoke.ts';
import { survey } from '../../examples/survey/workflow.ts';
import { TriggersClient } from '../../lib/client/client.ts';
import { SettleTimeoutError, ValidationError } from '../../lib/errors.ts';
import { defineWorkflow } from '../../lib/index.ts';
import { startTemplateStack } from '../../lib/local/template/stack.ts';
import { createTestRuntime } from '../../lib/testing/index.ts';
import {
  functionWithHandler,
  logicalIdOf,
  mutatedCopy,
  propsOf,
  readTemplate,
  removeAssembly,
  synthSurvey,
} from './template-assembly.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));
const silent = () => {};
let assembly: string;
const made: string[] = [];

beforeAll(async () => {
  assembly = await synthSurvey();
  made.push(assembly);
}, 180_000);

afterAll(() => {
  for (const dir of made) removeAssembly(dir);
});

/** Runs `triggers dev --template` until it prints its banner; resolves with the banner. */
function startDev(
  dir: string,
): Promise<{ child: ChildProcess; banner: string; output: () => string }> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', 'bin/triggers.ts', 'dev', '--template', dir, '--port', '0'],
    { cwd: root, env: { ...process.env }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stdout = '';
  let stderr = '';
  child.stderr?.on('data', (c: Buffer) => {
    stderr += c.toString();
  });
  return new Promise((resolve, reject) => {
    child.stdout?.on('data', (c: Buffer) => {
      stdout += c.toString();
      if (stdout.includes('Ctrl+C stops it.'))
        resolve({ child, banner: stdout, output: () => stdout });
    });
    child.once('exit', (code) =>
      reject(new Error(`dev exited ${code} before it was up: ${stderr}`)),
    );
  });
}

describe('the template mode', () => {
  it('runs the synthesized survey stack, which passes npm run smoke with no denied call', async () => {
    const started = performance.now();
    const dev = await startDev(assembly);
    const upAfter = (performance.now() - started) / 1000;
    try {
      const coldStart = /cold start ([\d.]+) s/.exec(dev.banner)?.[1];
      const url = /HTTP API\s+(http:\/\/127\.0\.0\.1:\d+)/.exec(dev.banner)?.[1];
      expect(coldStart).toBeDefined();
      expect(url).toBeDefined();
      // The cold start, measured from the command to "is up" (a figure, not an assertion).
      console.log(
        `template mode cold start: ${upAfter.toFixed(1)} s from the command, ${coldStart} s as dev reports it`,
      );
      expect(dev.banner).toMatch(/require authorization/);
      expect(dev.banner).toMatch(/not emulated.*AWS::CloudWatch::Alarm/);

      const smoke = await promisify(execFile)(
        process.execPath,
        [
          '--import',
          'tsx',
          'scripts/smoke.ts',
          '--api-url',
          url as string,
          '--json',
          '--timeout',
          '90',
        ],
        { cwd: root, env: { ...process.env, AWS_ACCESS_KEY_ID: '', AWS_PROFILE: '' } },
      );
      const report = JSON.parse(smoke.stdout) as {
        ok: boolean;
        checks: Array<{ name: string; ok: boolean }>;
      };
      expect(report.checks.filter((c) => !c.ok)).toEqual([]);
      expect(report.checks).toHaveLength(8);
      expect(report.ok).toBe(true);
    } finally {
      const exited = new Promise((resolve) => dev.child.once('exit', resolve));
      dev.child.kill('SIGTERM');
      await exited;
    }
    expect(dev.output()).toMatch(/stopping \(0 denied AWS calls\)/);
  }, 300_000);

  it('fails the smoke run when the evaluator may not send to the task queues, naming action, resource and function', async () => {
    const evaluator = functionWithHandler(readTemplate(assembly), 'evaluator.handler');
    const copy = mutatedCopy(assembly, (t) => {
      const role = (propsOf(t, evaluator).Role as { 'Fn::GetAtt': string[] })['Fn::GetAtt'][0];
      const policyId = logicalIdOf(
        t,
        (_, r) =>
          r.Type === 'AWS::IAM::Policy' &&
          JSON.stringify(r.Properties?.Roles) === JSON.stringify([{ Ref: role }]),
      );
      const doc = propsOf(t, policyId).PolicyDocument as {
        Statement: Array<{ Action: unknown; Resource: unknown }>;
      };
      // Every statement that lets it send to a task queue (not the stream failures queue).
      doc.Statement = doc.Statement.filter(
        (s) =>
          !(
            JSON.stringify(s.Action).includes('sqs:SendMessage') &&
            JSON.stringify(s.Resource).includes('TaskQueue')
          ),
      );
    });
    made.push(copy);
    const stack = await startTemplateStack({
      assembly: copy,
      log: silent,
      output: silent,
      inspector: false,
    });
    try {
      // A failed check, or a step the smoke could not take (a replay of a stuck instance).
      const passed = await runSurveySmoke({
        client: new TriggersClient({
          apiUrl: stack.url,
          region: 'us-east-1',
          credentials: () => Promise.reject(new Error('unsigned')),
        }),
        prefix: 'denied',
        timeoutMs: 15_000,
        pollMs: 250,
      }).then(
        (report) => report.ok,
        () => false,
      );
      expect(passed).toBe(false);
      const denied = stack.deniedCalls().find((d) => d.action === 'sqs:SendMessage');
      expect(denied?.functionLogicalId).toBe(evaluator);
      expect(denied?.resource).toMatch(
        /^arn:aws:sqs:us-east-1:000000000000:TriggersSurvey-.*TaskQueue/,
      );
      expect(denied?.message).toContain('sqs:SendMessage');
      expect(denied?.message).toContain(denied?.resource ?? 'no resource');
      expect(denied?.message).toContain(evaluator);
    } finally {
      await stack.stop();
    }
  }, 180_000);

  it("fails the evaluator's cold start with the one-line environment error when its table variable is gone", async () => {
    const evaluator = functionWithHandler(readTemplate(assembly), 'evaluator.handler');
    const copy = mutatedCopy(assembly, (t) => {
      const env = (propsOf(t, evaluator).Environment as { Variables: Record<string, unknown> })
        .Variables;
      delete env.TRIGGERS_TABLE_NAME;
    });
    made.push(copy);
    const lines: string[] = [];
    const stack = await startTemplateStack({
      assembly: copy,
      log: silent,
      output: (fn, line) => {
        if (fn === evaluator) lines.push(line);
      },
      inspector: false,
    });
    try {
      const client = new TriggersClient({
        apiUrl: stack.url,
        region: 'us-east-1',
        credentials: () => Promise.reject(new Error('unsigned')),
      });
      await client.fire('env-1', 'step1', {}, {});
      const deadline = Date.now() + 60_000;
      while (!lines.some((l) => l.includes('TRIGGERS_TABLE_NAME')) && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 200));
      }
      const line = lines.find((l) => l.includes('TRIGGERS_TABLE_NAME'));
      expect(line).toMatch(/environment variable TRIGGERS_TABLE_NAME is required/);
      expect(stack.deniedCalls()).toEqual([]);
    } finally {
      await stack.stop();
    }
  }, 180_000);

  it("never settles a session when the evaluator's mapping filters out every event, and names the mapping", async () => {
    const evaluator = functionWithHandler(readTemplate(assembly), 'evaluator.handler');
    let mapping = '';
    const copy = mutatedCopy(assembly, (t) => {
      mapping = logicalIdOf(
        t,
        (_, r) =>
          r.Type === 'AWS::Lambda::EventSourceMapping' &&
          JSON.stringify(r.Properties?.FunctionName) === JSON.stringify({ Ref: evaluator }),
      );
      const criteria = propsOf(t, mapping).FilterCriteria as {
        Filters: Array<{ Pattern: string }>;
      };
      for (const f of criteria.Filters) f.Pattern = f.Pattern.replace('EVT#', 'NOPE#');
    });
    made.push(copy);
    const runtime = await createTestRuntime({
      workflow: survey,
      handlers,
      backend: 'template',
      assembly: copy,
    });
    try {
      await runtime.session('filtered-1').fire('step1');
      const settled = runtime.settle({ timeoutMs: 30_000 });
      await expect(settled).rejects.toBeInstanceOf(SettleTimeoutError);
      await expect(settled).rejects.toThrow(mapping);
      expect((await runtime.session('filtered-1').instances()).length).toBe(0);
    } finally {
      await runtime.close();
    }
  }, 180_000);

  it('is a test backend: a session of the deployed workflow runs to its end through the stack', async () => {
    const runtime = await createTestRuntime({
      workflow: survey,
      handlers,
      backend: 'template',
      assembly,
    });
    try {
      const s = runtime.session('backend-1');
      await s.fire('step1', { subjectId: 'subject-1' });
      await s.fire('step4');
      await runtime.settle({ timeoutMs: 60_000 });
      expect((await s.instance('t_importSubject#0'))?.status).toBe('finished');
      await expect(runtime.advance('1h')).rejects.toThrow(/real clock/);
    } finally {
      await runtime.close();
    }
  }, 180_000);

  it('refuses a workflow the assembly does not deploy', async () => {
    const other = defineWorkflow(survey.name, { t_other: { after: ['go'], run: 'score' } });
    await expect(
      createTestRuntime({ workflow: other, handlers, backend: 'template', assembly }),
    ).rejects.toBeInstanceOf(ValidationError);
  }, 180_000);
});
