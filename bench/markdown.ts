/**
 * The Markdown report of a run (`latest.md`): the targets, the tables of every stage, the cost
 * models written out line by line, and links to the charts.
 * May import: anything (bench is a tool above every layer).
 *
 * @module
 */
import type { ModelCost } from './alternatives.ts';
import type { WorkloadCost } from './cost.ts';
import type { LatencyMeasure, ModeledLatency } from './latency.ts';
import { LAMBDA_ASSUMPTIONS } from './prices.ts';
import type { CostBreakdown } from './pricing.ts';
import { type BenchResults, CHART_FILES } from './run-results.ts';
import type { Distribution } from './stats.ts';
import type { TargetResult } from './targets.ts';

const money = (v: number) =>
  v === 0
    ? '$0'
    : v >= 100
      ? `$${v.toFixed(0)}`
      : v >= 0.01
        ? `$${v.toFixed(2)}`
        : `$${v.toPrecision(2)}`;
const num = (v: number, d = 2) => (Number.isFinite(v) ? `${+v.toFixed(d)}` : 'n/a');
const ms = (v: number) => (v >= 1000 ? `${(v / 1000).toFixed(2)} s` : `${v.toFixed(0)} ms`);

function table(head: string[], rows: Array<Array<string | number>>): string {
  // Numbers (with units, $, %, ×) right-aligned, words left-aligned.
  const numeric = head.map((_, i) =>
    rows.every(
      (r) =>
        /^[\s*$~≤≥<>0-9.,%×()a-z/-]*$/i.test(String(r[i] ?? '')) &&
        /[0-9]/.test(String(r[i] ?? '0')),
    ),
  );
  const align = head.map((_, i) => (i > 0 && numeric[i] ? '---:' : '---'));
  return [
    `| ${head.join(' | ')} |`,
    `| ${align.join(' | ')} |`,
    ...rows.map((r) => `| ${r.join(' | ')} |`),
  ].join('\n');
}

function breakdownRow(label: string, c: CostBreakdown): Array<string | number> {
  return [
    label,
    money(c.dynamodbWrites),
    money(c.dynamodbReads),
    money(c.sqsRequests),
    money(c.lambdaRequests),
    money(c.lambdaDuration),
    money(c.orchestration),
    `**${money(c.total)}**`,
  ];
}

function modelSection(w: WorkloadCost, m: ModelCost & { perMillion: CostBreakdown }): string {
  return [
    `**${m.name}**, ${w.name}: ${money(m.perMillion.total)} per million sessions.`,
    '',
    table(
      ['item', 'per session', 'why'],
      m.lines.map((l) => [l.item, num(l.quantity, 6), l.why]),
    ),
  ].join('\n');
}

function measureRow(
  workload: string,
  measure: string,
  m: LatencyMeasure | undefined,
): Array<Array<string | number>> {
  if (!m) return [];
  const d = m.latencyMs;
  const h = m.hops;
  return [
    [
      workload,
      measure,
      d.samples,
      ms(d.p50),
      ms(d.p95),
      ms(d.p99),
      ms(d.max),
      ms(m.pollWaitMs.p50),
      `${h.stream.p50} + ${h.queue.p50} (${h.stream.max} + ${h.queue.max})`,
    ],
  ];
}

/** The AWS latency model's part of section 4: the model, a table per dispatch path, the cost. */
function modeledSection(m: ModeledLatency): string[] {
  const out: string[] = [
    '### Under the AWS latency model',
    '',
    `![Latency under the AWS latency model](${CHART_FILES.modeledLatency})`,
    '',
    m.note,
    '',
    table(
      ['parameter', 'value', 'source'],
      [
        [
          'stream poll period',
          `${m.model.streamPollEveryMs} ms`,
          m.model.sources.streamPollEveryMs ?? '',
        ],
        [
          'invocation overhead',
          `${m.model.invocationOverheadMs} ms`,
          m.model.sources.invocationOverheadMs ?? '',
        ],
        ['task queues', 'long polling', m.model.sources.queueLongPolling ?? ''],
        [
          'stream batches, queue pollers',
          `${m.model.settings.streamParallelization ? 'parallelization as deployed' : 'one batch at a time'}, ${m.model.settings.queuePollers} pollers per queue`,
          'the wiring (lib/adapters/aws-lambda/wiring.ts), as the local runner runs it',
        ],
      ],
    ),
    '',
    '(a) is the last required trigger accepted (its ingest put returned) → the handler’s start; ' +
      '(b) is a handler returned → the start of the handler waiting for its outcome (the cascade). ' +
      '"Poll wait" is the part of each sample spent waiting for a stream source to poll. Hops: ' +
      'stream-source invocations + task-queue deliveries inside the window, median (most seen).',
    '',
  ];
  for (const mode of m.modes) {
    out.push(
      `**${mode.name}**: ${mode.description}.`,
      '',
      table(
        [
          'workload',
          'measure',
          'samples',
          'p50',
          'p95',
          'p99',
          'max',
          'poll wait p50',
          'hops: stream + queue',
        ],
        mode.workloads.flatMap((w) => [
          ...measureRow(w.workload, '(a) trigger → handler', w.triggerToHandler),
          ...measureRow(w.workload, '(b) handler → handler', w.handlerToHandler),
        ]),
      ),
      '',
      ...(mode.problemCount > 0
        ? [
            `Problems on this path: ${mode.problemCount}, the first: ${mode.problems.map((p) => `\`${p.replace(/\s+/g, ' ').slice(0, 300)}\``).join('; ')}`,
            '',
          ]
        : []),
    );
  }
  out.push(
    'What each path costs a simple session (the cost stage’s runner, one event at a time, same run). ' +
      'The direct path is judged against the old path’s budget of ≤ 9 write / ≤ 3 read units and ≤ 6 invocations; the old path is shown for comparison:',
    '',
    table(
      [
        'path',
        'write units (Local)',
        'write units (AWS formula)',
        'read units',
        'invocations',
        'evaluator / dispatcher / task / ingest',
        'SQS requests',
        'per million sessions',
        '≤ 9 W / ≤ 3 R / ≤ 6 invocations',
      ],
      m.modes.map((mode) => {
        const c = mode.simpleSessionCost;
        const within = c.writeUnits <= 9 && c.readUnits <= 3 && c.lambdaInvocations <= 6;
        return [
          mode.name,
          num(c.writeUnits),
          num(c.awsWriteUnits),
          num(c.readUnits),
          num(c.lambdaInvocations),
          `${num(c.invocations.evaluator)} / ${num(c.invocations.dispatcher)} / ${num(c.invocations.task)} / ${num(c.invocations.ingest)}`,
          num(c.sqsRequests),
          money(c.perMillion),
          mode.dispatch === 'direct' ? (within ? '**met**' : '**EXCEEDED**') : 'not judged',
        ];
      }),
    ),
    '',
  );
  return out;
}

/**
 * The Markdown report of a run.
 *
 * @example
 * await writeFile('latest.md', renderMarkdown(results));
 */
export function renderMarkdown(r: BenchResults): string {
  const out: string[] = [];
  const verdict = (t: TargetResult) => (t.pass ? '**pass**' : '**MISS**');
  out.push(
    '# Benchmark results',
    '',
    `Mode: **${r.meta.mode}**, ${r.meta.startedAt}, ${r.meta.seconds.toFixed(0)} s on ${r.meta.cpus} CPUs (${r.meta.platform}, Node.js ${r.meta.node}); ` +
      `1-minute load average ${r.meta.loadAverage.before.toFixed(1)} before and ${r.meta.loadAverage.after.toFixed(1)} after (the machine is shared: timings are noisy, units are not).`,
    '',
    'All numbers come from the local stack: DynamoDB Local and the fauxqs SQS emulator, the real ' +
      'ingest, evaluator and task-runner code (and, for the old dispatch path, the dispatcher) driven by the local event-source runner. ' +
      'What they do and do not say about AWS: `docs/performance.md`.',
    '',
    ...r.meta.notes.map((n) => `> ${n}`),
    ...(r.meta.notes.length > 0 ? [''] : []),
    '## Targets',
    '',
    table(
      ['target', 'limit', 'measured', 'verdict', 'margin'],
      r.targets.map((t) => [t.description, t.target, num(t.value), verdict(t), t.margin]),
    ),
    '',
  );
  for (const t of r.targets) {
    if (t.pass) continue;
    out.push(
      `**${t.id}: missed.** ${t.margin}.`,
      '',
      `- Bound: ${t.bound.replace(/[.\s]+$/, '')}.`,
      `- Fix: ${t.fix ?? 'see above'}`,
      '',
    );
  }

  out.push(
    '## 1. Cost per workflow',
    '',
    `![Cost per million sessions](${CHART_FILES.cost})`,
    '',
    'Each session is run alone, one event at a time (every event fired once the previous one was ' +
      'applied and its tasks finished), so nothing is shared with other sessions: the most ' +
      "invocations and transactions a session can cause. Units are DynamoDB Local's " +
      '`ReturnConsumedCapacity`, booked by the store for every call of every flow; SQS requests ' +
      'are counted by the emulator (sends, receives that returned messages, deletes; the event ' +
      "source's empty long polls are idle cost, not per session); Lambda invocations are the " +
      "local runner's evaluator and task batches (and dispatcher batches on the old path, section 4) plus one ingest invocation per event. " +
      'The evaluator sends what it schedules to the task queue itself (direct dispatch), as deployed.',
    '',
    table(
      [
        'workload',
        'events',
        'tasks',
        'read units',
        'write units (Local)',
        'write units (AWS formula)',
        'SQS requests',
        'Lambda invocations',
        'evaluator / dispatcher / task / ingest',
      ],
      r.cost.map((w) => [
        w.name,
        w.shape.events,
        num(w.shape.taskRuns),
        num(w.totals.readUnits),
        num(w.totals.writeUnits),
        num(w.totals.awsWriteUnits),
        num(w.totals.sqsRequests),
        num(w.totals.lambdaInvocations),
        `${num(w.usage.lambda.evaluator.count)} / ${num(w.usage.lambda.dispatcher.count)} / ${num(w.usage.lambda.task.count)} / ${num(w.usage.lambda.ingest.count)}`,
      ]),
    ),
    '',
    `Dollars per **million sessions** (us-east-1 on-demand, \`bench/prices.ts\`; Lambda ${LAMBDA_ASSUMPTIONS.memoryMb} MB ${LAMBDA_ASSUMPTIONS.architecture}, ` +
      `duration modelled as ${LAMBDA_ASSUMPTIONS.invocationOverheadMs} ms per invocation + ${LAMBDA_ASSUMPTIONS.dynamodbCallMs} ms per DynamoDB call, ` +
      `${LAMBDA_ASSUMPTIONS.transactionMs} ms per transaction, ${LAMBDA_ASSUMPTIONS.apiCallMs} ms per other AWS call, billed per 1 ms):`,
    '',
    table(
      [
        'workload',
        'DynamoDB writes',
        'DynamoDB reads',
        'SQS',
        'Lambda requests',
        'Lambda duration',
        'orchestration',
        'total',
      ],
      r.cost.flatMap((w) => [
        breakdownRow(`${w.name}: this pipeline`, w.perMillion),
        breakdownRow(`${w.name}: Step Functions Standard`, w.stepFunctions.perMillion),
        breakdownRow(`${w.name}: Lambda durable functions`, w.durableFunctions.perMillion),
      ]),
    ),
    '',
    table(
      [
        'workload',
        'ours / million',
        'Step Functions / million',
        'ratio',
        'durable functions / million',
        'ratio',
        'ours with AWS-formula writes',
        'ours with local durations',
      ],
      r.cost.map((w) => [
        w.name,
        money(w.perMillion.total),
        money(w.stepFunctions.perMillion.total),
        `${w.ratios.stepFunctions.toFixed(1)}×`,
        money(w.durableFunctions.perMillion.total),
        `${w.ratios.durableFunctions.toFixed(1)}×`,
        money(w.perMillionAwsFormula.total),
        money(w.perMillionLocalDuration.total),
      ]),
    ),
    '',
    'Write units by store operation (DynamoDB Local; the AWS-formula estimate in brackets):',
    '',
    table(
      ['workload', 'operation: calls, read units, write units [AWS formula]'],
      r.cost.map((w) => [
        w.name,
        Object.entries(w.usage.dynamodb)
          .map(
            ([op, o]) =>
              `${op}: ${num(o.calls)}, ${num(o.readUnits)} R, ${num(o.writeUnits)} W [${num(o.awsWriteUnits)}]`,
          )
          .join('; '),
      ]),
    ),
    '',
    '### The models',
    '',
    'Both alternatives are lower bounds written out item by item: what a minimal implementation of ' +
      'the same session must pay, not a measurement.',
    '',
  );
  const first = r.cost[0];
  if (first) {
    out.push(
      modelSection(first, first.stepFunctions),
      '',
      ...first.stepFunctions.assumptions.map((a) => `- ${a}`),
      '',
    );
    out.push(
      modelSection(first, first.durableFunctions),
      '',
      ...first.durableFunctions.assumptions.map((a) => `- ${a}`),
      '',
    );
    out.push(
      'The other workloads use the same models with their own counts:',
      '',
      table(
        [
          'workload',
          'events',
          'waits',
          'loop turns',
          'task runs',
          'SFN transitions',
          'durable operations',
        ],
        r.cost.map((w) => [
          w.name,
          w.shape.events,
          w.shape.waits,
          w.shape.loopIterations,
          num(w.shape.taskRuns),
          num(w.stepFunctions.lines[0]?.quantity ?? Number.NaN),
          num(w.durableFunctions.lines[0]?.quantity ?? Number.NaN),
        ]),
      ),
      '',
    );
  }

  out.push(
    '## 2. Flatness',
    '',
    `![Units per event by session length](${CHART_FILES.flatness})`,
    '',
    r.flatness.note,
    '',
    table(
      [
        'session length',
        'read units',
        'write units (Local)',
        'write units (AWS formula)',
        'read ratio',
        'write ratio',
        'AWS-formula write ratio',
        'history',
      ],
      r.flatness.points.map((p) => [
        p.length.toLocaleString('en-US'),
        num(p.readUnits),
        num(p.writeUnits),
        num(p.awsWriteUnits),
        num(p.readRatio),
        num(p.writeRatio),
        num(p.awsWriteRatio),
        p.history,
      ]),
    ),
    '',
    `Pages fired in bursts (${r.flatness.burst.pages.toLocaleString('en-US')} of them, many per evaluation) cost ` +
      `${num(r.flatness.burst.readUnits)} read and ${num(r.flatness.burst.writeUnits)} write units per page on DynamoDB Local ` +
      `(${num(r.flatness.burst.awsWriteUnits)} by AWS's formula): batching is cheaper per event than one event at a time.`,
    '',
    '## 3. Throughput against the floor',
    '',
    `![Throughput](${CHART_FILES.throughput})`,
    '',
    "Each client runs simple sessions back to back (fire both triggers, wait for the task's " +
      'outcome, start the next), so `parallel` sessions are in flight at any moment. The floor runs ' +
      'the same number of bare conditional `PutItem` calls (one per event) and `SendMessage` calls ' +
      '(one per task) with the same concurrency on the same emulators, just before.',
    '',
  );
  for (const c of r.throughput) {
    // The dispatcher runs only on the old (stream) dispatch path.
    const dispatcher = c.levels.some((l) => l.profile.dispatcher.invocations > 0);
    const withDispatcher = <T>(row: T[], cell: T): T[] =>
      dispatcher ? [...row.slice(0, 9), cell, ...row.slice(9)] : row;
    out.push(
      `**${c.name}**: ${c.description}.`,
      '',
      table(
        withDispatcher(
          [
            'parallel',
            'sessions',
            'events/s',
            'tasks/s',
            'floor puts/s',
            'floor sends/s',
            'pipeline / floor',
            'evaluator busy × lanes',
            'task busy × pollers',
            'DynamoDB calls / session',
            'CPU ms / session (pipeline, floor)',
            'invocations / session',
            'stalled',
          ],
          'dispatcher busy × lanes',
        ),
        c.levels.map((l) =>
          withDispatcher<string | number>(
            [
              l.parallel,
              l.sessions,
              num(l.pipeline.eventsPerSecond, 1),
              num(l.pipeline.tasksPerSecond, 1),
              num(l.floor.putsPerSecond, 1),
              num(l.floor.sendsPerSecond, 1),
              `**${num(l.ratio)}**`,
              `${(l.profile.evaluator.utilisation * 100).toFixed(0)}% × ${l.profile.evaluator.lanes}`,
              `${(l.profile.task.utilisation * 100).toFixed(0)}% × ${l.profile.task.lanes}`,
              `${num(l.perSession.dynamodbCalls, 1)} (${num(l.perSession.transactions, 1)} tx)`,
              `${num(l.cpuMsPerSession.pipeline, 1)}, ${num(l.cpuMsPerSession.floor, 1)}`,
              num(l.perSession.lambdaInvocations, 1),
              l.stalled,
            ],
            `${(l.profile.dispatcher.utilisation * 100).toFixed(0)}% × ${l.profile.dispatcher.lanes}`,
          ),
        ),
      ),
      '',
    );
  }
  out.push(
    ...r.throughput.flatMap((c) =>
      c.levels
        .filter((l) => l.problemCount > 0)
        .map(
          (l) =>
            `Runtime problems at ${l.parallel} in parallel (${c.name}): ${l.problemCount}, the first: ${l.problems.map((p) => `\`${p.replace(/\s+/g, ' ').slice(0, 400)}\``).join('; ')}\n`,
        ),
    ),
    '"Busy × lanes": the summed wall-clock time of the function\'s invocations over the run\'s time, ' +
      'divided by how many can run at once (stream lanes, queue pollers). Near 100%, that function is ' +
      'the bottleneck.',
    '',
    '## 4. Latency',
    '',
    ...(r.modeledLatency ? modeledSection(r.modeledLatency) : []),
    `### Local runner, ${r.runner.streamPollIntervalMs} ms polls`,
    '',
    `![Latency](${CHART_FILES.latency})`,
    '',
    'These figures say how the local runner behaves, not AWS: its stream pollers poll again ' +
      `${r.runner.streamPollIntervalMs} ms after finding nothing, far sooner than Lambda's stream sources.`,
    '',
    `From the moment the last required trigger is accepted (its conditional put returned) to the ` +
      `handler's start. Runner: stream poll interval ${r.runner.streamPollIntervalMs} ms when a ` +
      `shard had nothing new, queue long polls of ${r.runner.queueLongPollSeconds} s (a long poll ` +
      `returns as soon as a message arrives), batching window ${r.runner.batchingWindowSeconds} s.`,
    '',
    table(
      ['load', 'samples', 'p50', 'p95', 'p99', 'max'],
      [
        [
          'one event at a time (andEvery pages)',
          r.latency.unloaded.samples,
          ms(r.latency.unloaded.p50),
          ms(r.latency.unloaded.p95),
          ms(r.latency.unloaded.p99),
          ms(r.latency.unloaded.max),
        ],
        ...r.latency.byParallel.map((l) => [
          `${l.parallel} simple session(s) in parallel`,
          l.latencyMs.samples,
          ms(l.latencyMs.p50),
          ms(l.latencyMs.p95),
          ms(l.latencyMs.p99),
          ms(l.latencyMs.max),
        ]),
      ],
    ),
    '',
    'Evaluator batch sizes observed (records per invocation):',
    '',
    table(
      ['when', 'invocations', 'mean', 'p50', 'p95', 'max'],
      [
        ['pages one at a time', r.latency.evaluatorBatchSizes.paced],
        ['pages in bursts', r.latency.evaluatorBatchSizes.burst],
        ...r.latency.evaluatorBatchSizes.byParallel.map(
          (b) => [`${b.parallel} sessions in parallel`, b.sizes] as [string, Distribution],
        ),
      ].map(([label, d]) => {
        const x = d as Distribution;
        return [
          label as string,
          x.samples,
          num(x.mean, 1),
          num(x.p50, 0),
          num(x.p95, 0),
          num(x.max, 0),
        ];
      }),
    ),
    '',
    '## Prices',
    '',
    table(
      ['price', 'USD', 'unit', 'source', 'published', 'note'],
      Object.entries(r.prices).map(([name, p]) => [
        name,
        p.usd.toPrecision(4),
        p.unit,
        p.source,
        p.published,
        'note' in p ? p.note : '',
      ]),
    ),
    '',
  );
  return out.join('\n');
}
