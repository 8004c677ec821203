/**
 * Firing triggers: plain and with kwargs, complex `after`, cascades (with kwargs, with the
 * dependent's other triggers fired first), redundant triggers and one-shot tasks.
 */
import { describe, expect, it } from 'vitest';
import { defineWorkflow } from '../../lib/index.ts';
import {
  expectFinished,
  expectMissing,
  expectUnresolved,
  expectUnstarted,
  fireAndSettle,
  start,
  startSession,
} from './harness.ts';

describe('firing a trigger', () => {
  it('runs every task waiting for it, passes withParams through, and leaves other tasks alone', async () => {
    const { rt, s } = await startSession({
      t_alpha: { after: ['_finishStep'], run: 'passThru' },
      t_bravo: {
        after: ['_finishStep'],
        run: 'passThru',
        withParams: {
          _finishStep: { name: 'observations' },
          extra: { stuff: 'arbitrary' },
        },
      },
      t_charlie: { after: ['dataReceived'], run: 'passThru' },
    });

    await fireAndSettle(rt, s, '_finishStep');

    await expectFinished(s, 't_alpha#0', { kwargs: { _finishStep: {} } });
    await expectFinished(s, 't_bravo#0', {
      kwargs: {
        _finishStep: { name: 'observations' },
        extra: { stuff: 'arbitrary' },
      },
    });
    await expectMissing(s, 't_charlie#0');
    await expectUnresolved(s, ['t_charlie'], []);
  });

  it('merges the fired kwargs over withParams for the matching trigger only', async () => {
    const { rt, s } = await startSession({
      t_alpha: { after: ['_finishStep'], run: 'passThru' },
      t_bravo: {
        after: ['_finishStep'],
        run: 'passThru',
        withParams: {
          _finishStep: { name: 'observations', status: 'clone' },
          extra: { stuff: 'arbitrary' },
        },
      },
      t_charlie: { after: ['dataReceived'], run: 'passThru' },
    });

    await fireAndSettle(rt, s, '_finishStep', { name: 'Dolly', greeting: 'Hello' });

    await expectFinished(s, 't_alpha#0', {
      kwargs: { _finishStep: { name: 'Dolly', greeting: 'Hello' } },
    });
    await expectFinished(s, 't_bravo#0', {
      kwargs: {
        _finishStep: { name: 'Dolly', greeting: 'Hello', status: 'clone' },
        extra: { stuff: 'arbitrary' },
      },
    });
    await expectMissing(s, 't_charlie#0');
    await expectUnresolved(s, ['t_charlie'], []);
  });

  it('records only the trigger kwargs on the instance, not the withParams', async () => {
    const { rt, s } = await startSession({
      t_bravo: {
        after: ['_finishStep'],
        run: 'passThru',
        withParams: { _finishStep: { status: 'clone' }, extra: { stuff: 'arbitrary' } },
      },
    });

    await fireAndSettle(rt, s, '_finishStep', { name: 'Dolly' });

    const instance = await expectFinished(s, 't_bravo#0');
    expect(instance.kwargs).toEqual({ _finishStep: { name: 'Dolly' } });
    expect(instance.task).toBe('t_bravo');
    expect(instance.name).toBe('t_bravo#0');
    expect(instance.attempt).toBe(0);
  });

  it('accepts a workflow built with defineWorkflow', async () => {
    const workflow = defineWorkflow('plain', {
      t_alpha: { after: ['go'], run: 'passThru' },
    });
    const rt = await start(workflow);
    const s = rt.session('s1');

    await fireAndSettle(rt, s, 'go', { n: 1 });

    await expectFinished(s, 't_alpha#0', { kwargs: { go: { n: 1 } } });
    await expectUnresolved(s, [], []);
  });
});

describe('a task with several after triggers', () => {
  const complexWorkflow = {
    t_alpha: { after: ['dataReceived', 'creditsDepleted'], run: 'passThru' },
    t_bravo: {
      after: ['dataReceived', 'creditsDepleted'],
      run: 'passThru',
      withParams: {
        dataReceived: { name: 'Han' },
        calibration: { name: 'Greedo' },
      },
    },
    t_psych2: {
      after: ['creditsDepleted', 'dataReceived', 'registerComplete'],
      run: 'passThru',
    },
  };

  it('waits unstarted until all of them fired, then runs with the kwargs of each', async () => {
    const { rt, s } = await startSession(complexWorkflow);

    await fireAndSettle(rt, s, 'dataReceived');

    await expectUnstarted(s, 't_alpha#0');
    await expectUnstarted(s, 't_bravo#0');
    await expectUnstarted(s, 't_psych2#0');
    await expectUnresolved(
      s,
      ['t_alpha', 't_bravo', 't_psych2'],
      ['t_alpha#0', 't_bravo#0', 't_psych2#0'],
    );

    await fireAndSettle(rt, s, 'creditsDepleted');

    await expectFinished(s, 't_alpha#0', {
      kwargs: { dataReceived: {}, creditsDepleted: {} },
    });
    await expectFinished(s, 't_bravo#0', {
      kwargs: {
        dataReceived: { name: 'Han' },
        calibration: { name: 'Greedo' },
        creditsDepleted: {},
      },
    });
    await expectUnstarted(s, 't_psych2#0');
    await expectUnresolved(s, ['t_psych2'], ['t_psych2#0']);
  });

  it('gives the same outcome whichever trigger arrives first', async () => {
    const { rt, s } = await startSession(complexWorkflow);

    await fireAndSettle(rt, s, 'creditsDepleted');
    await expectUnstarted(s, 't_alpha#0');

    await fireAndSettle(rt, s, 'dataReceived');

    await expectFinished(s, 't_alpha#0', {
      kwargs: { dataReceived: {}, creditsDepleted: {} },
    });
    await expectFinished(s, 't_bravo#0', {
      kwargs: {
        dataReceived: { name: 'Han' },
        calibration: { name: 'Greedo' },
        creditsDepleted: {},
      },
    });
    await expectUnresolved(s, ['t_psych2'], ['t_psych2#0']);
  });

  it('keeps the kwargs each trigger was fired with and merges withParams per trigger', async () => {
    const { rt, s } = await startSession({
      t_alpha: { after: ['dataReceived', 'creditsDepleted'], run: 'passThru' },
      t_bravo: {
        after: ['dataReceived', 'creditsDepleted'],
        run: 'passThru',
        withParams: {
          dataReceived: { name: 'Rainbow Dash', species: 'unknown' },
          creditsDepleted: { name: 'Twilight Sparkle' },
          calibration: { name: 'Fluttershy' },
        },
      },
      t_psych2: {
        after: ['creditsDepleted', 'dataReceived', 'registerComplete'],
        run: 'passThru',
      },
    });

    await fireAndSettle(rt, s, 'dataReceived', { name: 'Rarity', leader: false });

    await expectUnstarted(s, 't_alpha#0');
    await expectUnstarted(s, 't_bravo#0');
    await expectUnstarted(s, 't_psych2#0');
    await expectUnresolved(
      s,
      ['t_alpha', 't_bravo', 't_psych2'],
      ['t_alpha#0', 't_bravo#0', 't_psych2#0'],
    );

    await fireAndSettle(rt, s, 'creditsDepleted');

    await expectFinished(s, 't_alpha#0', {
      kwargs: {
        dataReceived: { leader: false, name: 'Rarity' },
        creditsDepleted: {},
      },
    });
    await expectFinished(s, 't_bravo#0', {
      kwargs: {
        dataReceived: { leader: false, name: 'Rarity', species: 'unknown' },
        creditsDepleted: { name: 'Twilight Sparkle' },
        calibration: { name: 'Fluttershy' },
      },
    });
    await expectUnstarted(s, 't_psych2#0');
    await expectUnresolved(s, ['t_psych2'], ['t_psych2#0']);
  });
});

describe('cascades', () => {
  it('fire the finished task name with its result, and withParams merge into that result recursively', async () => {
    const { rt, s } = await startSession({
      t_alpha: { after: ['dataReceived'], run: 'passThru' },
      t_bravo: { after: ['t_alpha'], run: 'passThru' },
      t_charlie: {
        after: ['t_alpha'],
        run: 'passThru',
        withParams: {
          t_alpha: { foo: 'bar', kwargs: { hacked: true } },
          geek_pun: { baz: 'luhrmann' },
        },
      },
    });

    await fireAndSettle(rt, s, 'dataReceived');

    await expectFinished(s, 't_alpha#0', { kwargs: { dataReceived: {} } });
    await expectFinished(s, 't_bravo#0', {
      kwargs: { t_alpha: { kwargs: { dataReceived: {} } } },
    });
    await expectFinished(s, 't_charlie#0', {
      kwargs: {
        t_alpha: { foo: 'bar', kwargs: { dataReceived: {}, hacked: true } },
        geek_pun: { baz: 'luhrmann' },
      },
    });
    await expectUnresolved(s, [], []);
  });

  it('pass the fired kwargs down the chain and let withParams inject flags', async () => {
    const { rt, s } = await startSession({
      t_alpha: { after: ['dataReceived'], run: 'passThru' },
      t_bravo: {
        after: ['t_alpha'],
        run: 'passThru',
        withParams: {
          t_alpha: { partitionOnLetter: true, partitionOnNumber: false },
          arbitrary: { expected: 'maybe' },
        },
      },
      t_charlie: { after: ['t_alpha'], run: 'passThru' },
    });

    await fireAndSettle(rt, s, 'dataReceived', { inattention: '4.5' });

    await expectFinished(s, 't_alpha#0', {
      kwargs: { dataReceived: { inattention: '4.5' } },
    });
    await expectFinished(s, 't_bravo#0', {
      kwargs: {
        t_alpha: {
          kwargs: { dataReceived: { inattention: '4.5' } },
          partitionOnLetter: true,
          partitionOnNumber: false,
        },
        arbitrary: { expected: 'maybe' },
      },
    });
    await expectFinished(s, 't_charlie#0', {
      kwargs: { t_alpha: { kwargs: { dataReceived: { inattention: '4.5' } } } },
    });
    await expectUnresolved(s, [], []);
  });

  it('leave a dependent unstarted until its other after triggers fire', async () => {
    const { rt, s } = await startSession({
      t_alpha: { after: ['dataReceived', 'creditsDepleted'], run: 'passThru' },
      t_bravo: { after: ['t_alpha', 'registerComplete'], run: 'passThru' },
      t_charlie: { after: ['t_alpha', 'demo'], run: 'passThru' },
    });

    await fireAndSettle(rt, s, 'dataReceived');

    await expectUnstarted(s, 't_alpha#0');
    await expectMissing(s, 't_bravo#0');
    await expectMissing(s, 't_charlie#0');
    await expectUnresolved(s, ['t_alpha', 't_bravo', 't_charlie'], ['t_alpha#0']);

    await fireAndSettle(rt, s, 'creditsDepleted');

    await expectFinished(s, 't_alpha#0', {
      kwargs: { dataReceived: {}, creditsDepleted: {} },
    });
    await expectUnstarted(s, 't_bravo#0');
    await expectUnstarted(s, 't_charlie#0');
    await expectUnresolved(s, ['t_bravo', 't_charlie'], ['t_bravo#0', 't_charlie#0']);

    await fireAndSettle(rt, s, 'registerComplete');

    await expectFinished(s, 't_bravo#0', {
      kwargs: {
        t_alpha: { kwargs: { dataReceived: {}, creditsDepleted: {} } },
        registerComplete: {},
      },
    });
    await expectUnstarted(s, 't_charlie#0');
    await expectUnresolved(s, ['t_charlie'], ['t_charlie#0']);
  });

  it('run a dependent whose other trigger fired before the cascade', async () => {
    const { rt, s } = await startSession({
      t_alpha: { after: ['dataReceived', 'creditsDepleted'], run: 'passThru' },
      t_bravo: { after: ['t_alpha', 'registerComplete'], run: 'passThru' },
      t_charlie: { after: ['t_alpha', 'demo'], run: 'passThru' },
    });

    await fireAndSettle(rt, s, 'registerComplete');

    await expectMissing(s, 't_alpha#0');
    await expectUnstarted(s, 't_bravo#0');
    await expectMissing(s, 't_charlie#0');
    await expectUnresolved(s, ['t_alpha', 't_bravo', 't_charlie'], ['t_bravo#0']);

    await fireAndSettle(rt, s, 'dataReceived');

    await expectUnstarted(s, 't_alpha#0');
    await expectUnstarted(s, 't_bravo#0');
    await expectMissing(s, 't_charlie#0');
    await expectUnresolved(s, ['t_alpha', 't_bravo', 't_charlie'], ['t_alpha#0', 't_bravo#0']);

    await fireAndSettle(rt, s, 'creditsDepleted');

    await expectFinished(s, 't_alpha#0', {
      kwargs: { dataReceived: {}, creditsDepleted: {} },
    });
    await expectFinished(s, 't_bravo#0', {
      kwargs: {
        t_alpha: { kwargs: { dataReceived: {}, creditsDepleted: {} } },
        registerComplete: {},
      },
    });
    await expectUnstarted(s, 't_charlie#0');
    await expectUnresolved(s, ['t_charlie'], ['t_charlie#0']);
  });

  it('let a dependent see a trigger of its predecessor when it names that trigger too (redundant trigger)', async () => {
    const { rt, s } = await startSession({
      t_alpha: { after: ['dataReceived', 'creditsDepleted'], run: 'devNull' },
      t_bravo: { after: ['t_alpha', 'dataReceived'], run: 'passThru' },
    });

    await s.fire('dataReceived', { section_timer: '42', test_admin: 'bob' });
    await s.fire('creditsDepleted');
    await rt.settle();

    await expectFinished(s, 't_alpha#0', {});
    await expectFinished(s, 't_bravo#0', {
      kwargs: {
        t_alpha: {},
        dataReceived: { section_timer: '42', test_admin: 'bob' },
      },
    });
    await expectUnresolved(s, [], []);
  });

  it('run a three-step chain to the end in one settle', async () => {
    const { rt, s } = await startSession({
      t_one: { after: ['go'], run: 'passThru' },
      t_two: { after: ['t_one'], run: 'passThru' },
      t_three: { after: ['t_two'], run: 'passThru' },
    });

    await fireAndSettle(rt, s, 'go', { x: 1 });

    await expectFinished(s, 't_three#0', {
      kwargs: { t_two: { kwargs: { t_one: { kwargs: { go: { x: 1 } } } } } },
    });
    await expectUnresolved(s, [], []);
  });
});

describe('one-shot tasks', () => {
  it('run once however often their trigger fires, keeping the first result', async () => {
    const { rt, s } = await startSession({
      t_alpha: { after: ['_finishStep'], run: 'passThru' },
    });

    await fireAndSettle(rt, s, '_finishStep', { counter: 1 });
    await expectFinished(s, 't_alpha#0', { kwargs: { _finishStep: { counter: 1 } } });

    await fireAndSettle(rt, s, '_finishStep', { counter: 2, extra: 'foo' });

    await expectMissing(s, 't_alpha#1');
    await expectFinished(s, 't_alpha#0', { kwargs: { _finishStep: { counter: 1 } } });
    await expectUnresolved(s, [], []);
  });

  it('take the first kwargs of a trigger fired twice while still waiting for another', async () => {
    const { rt, s } = await startSession({
      t_alpha: { after: ['dataReceived', 'creditsDepleted'], run: 'passThru' },
    });

    await fireAndSettle(rt, s, 'dataReceived', { n: 1 });
    await fireAndSettle(rt, s, 'dataReceived', { n: 2 });
    await fireAndSettle(rt, s, 'creditsDepleted');

    await expectFinished(s, 't_alpha#0', {
      kwargs: { dataReceived: { n: 1 }, creditsDepleted: {} },
    });
    await expectMissing(s, 't_alpha#1');
  });
});
