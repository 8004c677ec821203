/**
 * Sessions and events: isolation between sessions, idempotent event ids, and fires applied in
 * the order they were accepted.
 */
import { describe, expect, it } from 'vitest';
import {
  expectAbandoned,
  expectFinished,
  expectMissing,
  expectUnresolved,
  expectUnstarted,
  fireAndSettle,
  start,
} from './harness.ts';

describe('sessions', () => {
  it('are isolated: triggers fired into one never reach another', async () => {
    const rt = await start({
      t_alpha: { after: ['dataReceived', 'creditsDepleted'], run: 'passThru' },
    });
    const s1 = rt.session('s1');
    const s2 = rt.session('s2');

    await s1.fire('dataReceived', { who: 's1' });
    await s2.fire('creditsDepleted', { who: 's2' });
    await rt.settle();

    await expectUnstarted(s1, 't_alpha#0');
    await expectUnstarted(s2, 't_alpha#0');
    expect((await s1.instance('t_alpha#0'))?.kwargs).toEqual({ dataReceived: { who: 's1' } });
    expect((await s2.instance('t_alpha#0'))?.kwargs).toEqual({ creditsDepleted: { who: 's2' } });

    await fireAndSettle(rt, s1, 'creditsDepleted', { who: 's1' });

    await expectFinished(s1, 't_alpha#0', {
      kwargs: { dataReceived: { who: 's1' }, creditsDepleted: { who: 's1' } },
    });
    await expectUnstarted(s2, 't_alpha#0');
    await expectUnresolved(s1, [], []);
    await expectUnresolved(s2, ['t_alpha'], ['t_alpha#0']);
  });

  it('each run a one-shot task once, independently of the others', async () => {
    const rt = await start({ t_alpha: { after: ['go'], run: 'passThru' } });
    const a = rt.session('a');
    const b = rt.session('b');

    await fireAndSettle(rt, a, 'go', { n: 1 });
    await fireAndSettle(rt, b, 'go', { n: 2 });

    await expectFinished(a, 't_alpha#0', { kwargs: { go: { n: 1 } } });
    await expectFinished(b, 't_alpha#0', { kwargs: { go: { n: 2 } } });
    await expectMissing(a, 't_alpha#1');
    await expectMissing(b, 't_alpha#1');
  });

  it('that never received a trigger have no instances and every task unresolved', async () => {
    const rt = await start({
      t_alpha: { after: ['go'], run: 'devNull' },
      t_bravo: { after: ['t_alpha'], run: 'devNull' },
    });
    const used = rt.session('used');
    const fresh = rt.session('fresh');

    await fireAndSettle(rt, used, 'go');

    expect(await fresh.instances()).toEqual([]);
    await expectMissing(fresh, 't_alpha#0');
    await expectUnresolved(fresh, ['t_alpha', 't_bravo'], []);
    await expectUnresolved(used, [], []);
  });
});

describe('event ids', () => {
  it('apply an event fired twice with the same id once', async () => {
    const rt = await start({ t_alpha: { after: [], andEvery: 'x', run: 'passThru' } });
    const s = rt.session('s1');

    await s.fire('x', { n: 1 }, { eventId: 'e1' });
    await s.fire('x', { n: 1 }, { eventId: 'e1' });
    await rt.settle();

    await expectFinished(s, 't_alpha#0', { kwargs: { x: { n: 1 } } });
    await expectMissing(s, 't_alpha#1');

    await s.fire('x', { n: 2 }, { eventId: 'e2' });
    await rt.settle();

    await expectFinished(s, 't_alpha#1', { kwargs: { x: { n: 2 } } });
    await expectMissing(s, 't_alpha#2');
  });

  it('ignore the kwargs of a duplicate that reuses an id', async () => {
    const rt = await start({ t_alpha: { after: [], andEvery: 'x', run: 'passThru' } });
    const s = rt.session('s1');

    await fireAndSettle(rt, s, 'x');
    await s.fire('x', { n: 1 }, { eventId: 'e1' });
    await rt.settle();
    await s.fire('x', { n: 99 }, { eventId: 'e1' });
    await rt.settle();

    await expectFinished(s, 't_alpha#1', { kwargs: { x: { n: 1 } } });
    await expectMissing(s, 't_alpha#2');
  });

  it('fired without an id are each applied', async () => {
    const rt = await start({ t_alpha: { after: [], andEvery: 'x', run: 'devNull' } });
    const s = rt.session('s1');

    await s.fire('x');
    await s.fire('x');
    await s.fire('x');
    await rt.settle();

    await expectFinished(s, 't_alpha#2', {});
    await expectMissing(s, 't_alpha#3');
  });
});

describe('fires into one session', () => {
  it('are applied in the order they were accepted: unless then after abandons', async () => {
    const rt = await start({
      t_alpha: { after: ['go'], unless: ['stop'], run: 'devNull' },
    });
    const s = rt.session('s1');

    await s.fire('stop');
    await s.fire('go');
    await rt.settle();

    await expectAbandoned(s, 't_alpha#0');
  });

  it('are applied in the order they were accepted: after then unless finishes', async () => {
    const rt = await start({
      t_alpha: { after: ['go'], unless: ['stop'], run: 'devNull' },
    });
    const s = rt.session('s1');

    await s.fire('go');
    await s.fire('stop');
    await rt.settle();

    await expectFinished(s, 't_alpha#0', {});
  });

  it('are applied in order for the kwargs an andEvery instance captures', async () => {
    const rt = await start({
      t_alpha: { after: ['config'], andEvery: 'tick', run: 'passThru' },
    });
    const s = rt.session('s1');

    await s.fire('config', { v: 1 });
    await s.fire('tick', { n: 1 });
    await s.fire('config', { v: 2 });
    await s.fire('tick', { n: 2 });
    await s.fire('config', { v: 3 });
    await rt.settle();

    await expectFinished(s, 't_alpha#0', { kwargs: { config: { v: 1 }, tick: { n: 1 } } });
    await expectFinished(s, 't_alpha#1', { kwargs: { config: { v: 2 }, tick: { n: 2 } } });
    await expectMissing(s, 't_alpha#2');
  });
});
