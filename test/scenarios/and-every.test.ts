/**
 * `andEvery`: one instance per firing, with kwargs, with complex `after`, with cascades into
 * one-shot and repeating dependents, and deferred kwargs (the kwargs latest at creation).
 */
import { describe, expect, it } from 'vitest';
import {
  expectFinished,
  expectMissing,
  expectUnresolved,
  expectUnstarted,
  fireAndSettle,
  startSession,
} from './harness.ts';

describe('a task with andEvery', () => {
  it('gets a new instance each time its trigger fires', async () => {
    const { rt, s } = await startSession({
      t_alpha: { after: [], andEvery: '_finishStep', run: 'passThru' },
      t_bravo: {
        after: [],
        andEvery: '_finishStep',
        run: 'passThru',
        withParams: {
          _finishStep: { name: 'observations' },
          extra: { stuff: 'arbitrary' },
        },
      },
      t_charlie: { after: [], andEvery: 'dataReceived', run: 'passThru' },
    });

    await fireAndSettle(rt, s, '_finishStep');

    await expectFinished(s, 't_alpha#0', { kwargs: { _finishStep: {} } });
    await expectFinished(s, 't_bravo#0', {
      kwargs: { _finishStep: { name: 'observations' }, extra: { stuff: 'arbitrary' } },
    });
    await expectMissing(s, 't_charlie#0');
    await expectUnresolved(s, ['t_charlie'], []);

    await fireAndSettle(rt, s, '_finishStep');

    await expectFinished(s, 't_alpha#1', { kwargs: { _finishStep: {} } });
    await expectFinished(s, 't_bravo#1', {
      kwargs: { _finishStep: { name: 'observations' }, extra: { stuff: 'arbitrary' } },
    });
    await expectMissing(s, 't_alpha#2');
    await expectMissing(s, 't_charlie#0');
    await expectUnresolved(s, ['t_charlie'], []);
  });

  it('runs each instance with the kwargs of its own firing and leaves earlier results alone', async () => {
    const { rt, s } = await startSession({
      t_alpha: { after: [], andEvery: '_finishStep', run: 'passThru' },
      t_bravo: {
        after: [],
        andEvery: '_finishStep',
        run: 'passThru',
        withParams: {
          _finishStep: { name: 'observations', status: 'clone' },
          extra: { stuff: 'arbitrary' },
        },
      },
      t_charlie: { after: [], andEvery: 'dataReceived', run: 'passThru' },
    });

    await fireAndSettle(rt, s, '_finishStep', { name: 'Dolly', greeting: 'Hello' });

    await expectFinished(s, 't_alpha#0', {
      kwargs: { _finishStep: { greeting: 'Hello', name: 'Dolly' } },
    });
    await expectFinished(s, 't_bravo#0', {
      kwargs: {
        _finishStep: { greeting: 'Hello', name: 'Dolly', status: 'clone' },
        extra: { stuff: 'arbitrary' },
      },
    });
    await expectMissing(s, 't_charlie#0');
    await expectUnresolved(s, ['t_charlie'], []);

    await fireAndSettle(rt, s, '_finishStep', { name: 'Dave', greeting: 'Goodbye' });

    await expectFinished(s, 't_alpha#1', {
      kwargs: { _finishStep: { greeting: 'Goodbye', name: 'Dave' } },
    });
    await expectFinished(s, 't_bravo#1', {
      kwargs: {
        _finishStep: { greeting: 'Goodbye', name: 'Dave', status: 'clone' },
        extra: { stuff: 'arbitrary' },
      },
    });
    await expectFinished(s, 't_alpha#0', {
      kwargs: { _finishStep: { greeting: 'Hello', name: 'Dolly' } },
    });
    await expectUnresolved(s, ['t_charlie'], []);
  });

  it('with a complex after runs again only when the andEvery trigger fires again', async () => {
    const { rt, s } = await startSession({
      t_alpha: { after: ['dataReceived'], andEvery: 'creditsDepleted', run: 'passThru' },
      t_bravo: {
        after: ['dataReceived'],
        andEvery: 'creditsDepleted',
        run: 'passThru',
        withParams: {
          dataReceived: { name: 'Han' },
          calibration: { name: 'Greedo' },
        },
      },
      t_charlie: {
        after: ['dataReceived', 'registerComplete'],
        andEvery: 'creditsDepleted',
        run: 'passThru',
      },
    });

    await fireAndSettle(rt, s, 'dataReceived');

    await expectUnstarted(s, 't_alpha#0');
    await expectUnstarted(s, 't_bravo#0');
    await expectUnstarted(s, 't_charlie#0');
    await expectUnresolved(
      s,
      ['t_alpha', 't_bravo', 't_charlie'],
      ['t_alpha#0', 't_bravo#0', 't_charlie#0'],
    );

    await fireAndSettle(rt, s, 'creditsDepleted');

    await expectFinished(s, 't_alpha#0', {
      kwargs: { dataReceived: {}, creditsDepleted: {} },
    });
    await expectFinished(s, 't_bravo#0', {
      kwargs: {
        calibration: { name: 'Greedo' },
        dataReceived: { name: 'Han' },
        creditsDepleted: {},
      },
    });
    await expectUnstarted(s, 't_charlie#0');
    await expectUnresolved(s, ['t_charlie'], ['t_charlie#0']);

    // The after trigger firing again creates nothing: only andEvery makes new instances.
    await fireAndSettle(rt, s, 'dataReceived');

    await expectMissing(s, 't_alpha#1');
    await expectMissing(s, 't_bravo#1');
    await expectMissing(s, 't_charlie#1');
    await expectUnresolved(s, ['t_charlie'], ['t_charlie#0']);

    await fireAndSettle(rt, s, 'creditsDepleted');

    await expectFinished(s, 't_alpha#1', {
      kwargs: { dataReceived: {}, creditsDepleted: {} },
    });
    await expectFinished(s, 't_bravo#1', {
      kwargs: {
        calibration: { name: 'Greedo' },
        dataReceived: { name: 'Han' },
        creditsDepleted: {},
      },
    });
    await expectUnstarted(s, 't_charlie#0');
    await expectUnstarted(s, 't_charlie#1');
    await expectUnresolved(s, ['t_charlie'], ['t_charlie#0', 't_charlie#1']);
  });

  it('with a complex after keeps the other triggers kwargs for every new instance', async () => {
    const { rt, s } = await startSession({
      t_alpha: { after: ['creditsDepleted'], andEvery: 'dataReceived', run: 'passThru' },
      t_bravo: {
        after: ['creditsDepleted'],
        andEvery: 'dataReceived',
        run: 'passThru',
        withParams: {
          dataReceived: { name: 'Rainbow Dash', species: 'unknown' },
          creditsDepleted: { name: 'Twilight Sparkle' },
          calibration: { name: 'Fluttershy' },
        },
      },
      t_charlie: {
        after: ['creditsDepleted', 'registerComplete'],
        andEvery: 'dataReceived',
        run: 'passThru',
      },
    });

    await fireAndSettle(rt, s, 'dataReceived', { name: 'Rarity', leader: false });

    await expectUnstarted(s, 't_alpha#0');
    await expectUnstarted(s, 't_bravo#0');
    await expectUnstarted(s, 't_charlie#0');
    await expectUnresolved(
      s,
      ['t_alpha', 't_bravo', 't_charlie'],
      ['t_alpha#0', 't_bravo#0', 't_charlie#0'],
    );

    await fireAndSettle(rt, s, 'creditsDepleted');

    await expectFinished(s, 't_alpha#0', {
      kwargs: { dataReceived: { leader: false, name: 'Rarity' }, creditsDepleted: {} },
    });
    await expectFinished(s, 't_bravo#0', {
      kwargs: {
        dataReceived: { leader: false, name: 'Rarity', species: 'unknown' },
        creditsDepleted: { name: 'Twilight Sparkle' },
        calibration: { name: 'Fluttershy' },
      },
    });
    await expectUnstarted(s, 't_charlie#0');
    await expectUnresolved(s, ['t_charlie'], ['t_charlie#0']);

    await fireAndSettle(rt, s, 'dataReceived', { leader: true, name: 'Big Macintosh' });

    await expectFinished(s, 't_alpha#1', {
      kwargs: { dataReceived: { leader: true, name: 'Big Macintosh' }, creditsDepleted: {} },
    });
    await expectFinished(s, 't_bravo#1', {
      kwargs: {
        dataReceived: { leader: true, name: 'Big Macintosh', species: 'unknown' },
        creditsDepleted: { name: 'Twilight Sparkle' },
        calibration: { name: 'Fluttershy' },
      },
    });
    await expectUnstarted(s, 't_charlie#0');
    await expectUnstarted(s, 't_charlie#1');
    await expectUnresolved(s, ['t_charlie'], ['t_charlie#0', 't_charlie#1']);
  });
});

describe('andEvery with cascades', () => {
  it('runs repeating dependents once per cascade, with withParams merged into each result', async () => {
    const { rt, s } = await startSession({
      t_alpha: { after: [], andEvery: 'dataReceived', run: 'passThru' },
      t_bravo: { after: [], andEvery: 't_alpha', run: 'passThru' },
      t_charlie: {
        after: [],
        andEvery: 't_alpha',
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

    await fireAndSettle(rt, s, 'dataReceived');

    await expectFinished(s, 't_alpha#1', { kwargs: { dataReceived: {} } });
    await expectFinished(s, 't_bravo#1', {
      kwargs: { t_alpha: { kwargs: { dataReceived: {} } } },
    });
    await expectFinished(s, 't_charlie#1', {
      kwargs: {
        t_alpha: { foo: 'bar', kwargs: { dataReceived: {}, hacked: true } },
        geek_pun: { baz: 'luhrmann' },
      },
    });
    await expectUnresolved(s, [], []);
  });

  it('passes each firing’s kwargs through its own cascade', async () => {
    const { rt, s } = await startSession({
      t_alpha: { after: [], andEvery: 'dataReceived', run: 'passThru' },
      t_bravo: {
        after: [],
        andEvery: 't_alpha',
        run: 'passThru',
        withParams: {
          t_alpha: { partitionOnLetter: true, partitionOnNumber: false },
          arbitrary: { expected: 'maybe' },
        },
      },
      t_charlie: { after: [], andEvery: 't_alpha', run: 'passThru' },
    });

    await fireAndSettle(rt, s, 'dataReceived', { rating: '4.5' });

    await expectFinished(s, 't_alpha#0', { kwargs: { dataReceived: { rating: '4.5' } } });
    await expectFinished(s, 't_bravo#0', {
      kwargs: {
        t_alpha: {
          kwargs: { dataReceived: { rating: '4.5' } },
          partitionOnLetter: true,
          partitionOnNumber: false,
        },
        arbitrary: { expected: 'maybe' },
      },
    });
    await expectFinished(s, 't_charlie#0', {
      kwargs: { t_alpha: { kwargs: { dataReceived: { rating: '4.5' } } } },
    });
    await expectUnresolved(s, [], []);

    await fireAndSettle(rt, s, 'dataReceived', { rating: '3.2', alternate: true });

    await expectFinished(s, 't_alpha#1', {
      kwargs: { dataReceived: { rating: '3.2', alternate: true } },
    });
    await expectFinished(s, 't_bravo#1', {
      kwargs: {
        t_alpha: {
          kwargs: { dataReceived: { rating: '3.2', alternate: true } },
          partitionOnLetter: true,
          partitionOnNumber: false,
        },
        arbitrary: { expected: 'maybe' },
      },
    });
    await expectFinished(s, 't_charlie#1', {
      kwargs: { t_alpha: { kwargs: { dataReceived: { rating: '3.2', alternate: true } } } },
    });
    await expectUnresolved(s, [], []);
  });

  it('leaves repeating dependents unstarted until their own after triggers fire', async () => {
    const { rt, s } = await startSession({
      t_alpha: { after: ['creditsDepleted'], andEvery: 'dataReceived', run: 'passThru' },
      t_bravo: { after: ['registerComplete'], andEvery: 't_alpha', run: 'passThru' },
      t_charlie: { after: ['demo'], andEvery: 't_alpha', run: 'passThru' },
    });

    await fireAndSettle(rt, s, 'dataReceived');

    await expectUnstarted(s, 't_alpha#0');
    await expectMissing(s, 't_bravo#0');
    await expectMissing(s, 't_charlie#0');
    await expectUnresolved(s, ['t_alpha', 't_bravo', 't_charlie'], ['t_alpha#0']);

    await fireAndSettle(rt, s, 'creditsDepleted', { time: 42 });

    await expectFinished(s, 't_alpha#0', {
      kwargs: { dataReceived: {}, creditsDepleted: { time: 42 } },
    });
    await expectUnstarted(s, 't_bravo#0');
    await expectUnstarted(s, 't_charlie#0');
    await expectUnresolved(s, ['t_bravo', 't_charlie'], ['t_bravo#0', 't_charlie#0']);

    await fireAndSettle(rt, s, 'registerComplete');

    await expectFinished(s, 't_bravo#0', {
      kwargs: {
        t_alpha: { kwargs: { dataReceived: {}, creditsDepleted: { time: 42 } } },
        registerComplete: {},
      },
    });
    await expectUnstarted(s, 't_charlie#0');
    await expectUnresolved(s, ['t_charlie'], ['t_charlie#0']);

    await fireAndSettle(rt, s, 'dataReceived', { alternate: true });

    await expectFinished(s, 't_alpha#1', {
      kwargs: { dataReceived: { alternate: true }, creditsDepleted: { time: 42 } },
    });
    await expectFinished(s, 't_bravo#1', {
      kwargs: {
        t_alpha: {
          kwargs: { dataReceived: { alternate: true }, creditsDepleted: { time: 42 } },
        },
        registerComplete: {},
      },
    });
    await expectUnstarted(s, 't_charlie#1');
    await expectUnresolved(s, ['t_charlie'], ['t_charlie#0', 't_charlie#1']);
  });

  it('runs a one-shot dependent only for the first cascade', async () => {
    const { rt, s } = await startSession({
      t_alpha: { after: [], andEvery: 'dataReceived', run: 'passThru' },
      t_bravo: { after: ['t_alpha'], run: 'passThru' },
    });

    await fireAndSettle(rt, s, 'dataReceived');

    await expectFinished(s, 't_alpha#0', { kwargs: { dataReceived: {} } });
    await expectFinished(s, 't_bravo#0', {
      kwargs: { t_alpha: { kwargs: { dataReceived: {} } } },
    });
    await expectUnresolved(s, [], []);

    await fireAndSettle(rt, s, 'dataReceived');

    await expectFinished(s, 't_alpha#1', { kwargs: { dataReceived: {} } });
    await expectMissing(s, 't_bravo#1');
    await expectUnresolved(s, [], []);
  });

  it('repeats a dependent only as often as a one-shot predecessor cascades (once)', async () => {
    const { rt, s } = await startSession({
      t_alpha: { after: ['dataReceived'], run: 'passThru' },
      t_bravo: { after: [], andEvery: 't_alpha', run: 'passThru' },
    });

    await fireAndSettle(rt, s, 'dataReceived');

    await expectFinished(s, 't_alpha#0', { kwargs: { dataReceived: {} } });
    await expectFinished(s, 't_bravo#0', {
      kwargs: { t_alpha: { kwargs: { dataReceived: {} } } },
    });
    await expectUnresolved(s, [], []);

    await fireAndSettle(rt, s, 'dataReceived');

    await expectMissing(s, 't_alpha#1');
    await expectMissing(s, 't_bravo#1');
    await expectUnresolved(s, [], []);
  });
});

describe('deferred kwargs', () => {
  it('give each andEvery instance the kwargs that were latest when it was created', async () => {
    const { rt, s } = await startSession({
      t_alpha: { after: ['creditsDepleted'], andEvery: 'dataReceived', run: 'passThru' },
      t_bravo: { after: ['creditsDepleted'], andEvery: 't_alpha', run: 'passThru' },
      t_charlie: { after: ['t_alpha'], andEvery: 'creditsDepleted', run: 'passThru' },
    });

    await fireAndSettle(rt, s, 'creditsDepleted', { counter: 1 });

    await expectUnstarted(s, 't_alpha#0');
    await expectUnstarted(s, 't_bravo#0');
    await expectUnstarted(s, 't_charlie#0');
    await expectUnresolved(
      s,
      ['t_alpha', 't_bravo', 't_charlie'],
      ['t_alpha#0', 't_bravo#0', 't_charlie#0'],
    );

    await fireAndSettle(rt, s, 'creditsDepleted', { counter: 2 });

    await expectUnstarted(s, 't_alpha#0');
    await expectUnstarted(s, 't_bravo#0');
    await expectUnstarted(s, 't_charlie#0');
    await expectUnstarted(s, 't_charlie#1');
    await expectMissing(s, 't_alpha#1');
    await expectMissing(s, 't_bravo#1');
    await expectUnresolved(
      s,
      ['t_alpha', 't_bravo', 't_charlie'],
      ['t_alpha#0', 't_bravo#0', 't_charlie#0', 't_charlie#1'],
    );

    await fireAndSettle(rt, s, 'dataReceived', { counter: 3 });

    const alpha0 = { kwargs: { dataReceived: { counter: 3 }, creditsDepleted: { counter: 1 } } };
    await expectFinished(s, 't_alpha#0', alpha0);
    await expectFinished(s, 't_bravo#0', {
      kwargs: { t_alpha: alpha0, creditsDepleted: { counter: 1 } },
    });
    await expectFinished(s, 't_charlie#0', {
      kwargs: { t_alpha: alpha0, creditsDepleted: { counter: 1 } },
    });
    await expectFinished(s, 't_charlie#1', {
      kwargs: { t_alpha: alpha0, creditsDepleted: { counter: 2 } },
    });
    await expectUnresolved(s, [], []);

    await fireAndSettle(rt, s, 'dataReceived', { counter: 4 });

    const alpha1 = { kwargs: { dataReceived: { counter: 4 }, creditsDepleted: { counter: 2 } } };
    await expectFinished(s, 't_alpha#1', alpha1);
    await expectFinished(s, 't_bravo#1', {
      kwargs: { t_alpha: alpha1, creditsDepleted: { counter: 2 } },
    });
    // t_alpha is only an after trigger of t_charlie, so a second cascade makes no instance.
    await expectMissing(s, 't_charlie#2');
    await expectUnresolved(s, [], []);
  });

  it('record on the instance exactly the trigger kwargs captured at creation', async () => {
    const { rt, s } = await startSession({
      t_alpha: { after: ['config'], andEvery: 'tick', run: 'passThru' },
    });

    await fireAndSettle(rt, s, 'config', { v: 1 });
    await fireAndSettle(rt, s, 'tick', { n: 1 });
    await fireAndSettle(rt, s, 'config', { v: 2 });
    await fireAndSettle(rt, s, 'tick', { n: 2 });

    const first = await expectFinished(s, 't_alpha#0');
    const second = await expectFinished(s, 't_alpha#1');
    expect(first.kwargs).toEqual({ config: { v: 1 }, tick: { n: 1 } });
    expect(second.kwargs).toEqual({ config: { v: 2 }, tick: { n: 2 } });
  });
});
