/**
 * The local stack's lifecycle log: one printed line per event, the events kept per session and
 * bounded, redeliveries kept once; and the inspector's route that serves them to the timeline.
 */
import { describe, expect, it } from 'vitest';
import type { LifecycleEvent } from '../../lib/core/lifecycle.ts';
import { createInspector } from '../../lib/local/inspector/server.ts';
import { LifecycleLog, lifecycleLine } from '../../lib/local/lifecycle-log.ts';

function fired(sessionId: string, eventId: string, scheduled: string[] = []): LifecycleEvent {
  return {
    detailType: 'Trigger Fired',
    detail: {
      id: `fired:${sessionId}:${eventId}`,
      sessionId,
      workflow: 'chain',
      trigger: eventId,
      eventId,
      scheduled,
    },
  };
}

const AT = new Date('2026-03-01T10:00:00.000Z');

describe('lifecycleLine', () => {
  it('writes each kind of event as one line: kind, session, then its fields', () => {
    const lines = [
      fired('s1', 'go', ['t_a#0', 't_b#0']),
      fired('s1', 'noop'),
      {
        detailType: 'Instance Replayed',
        detail: { id: 'r', sessionId: 's1', instance: 't_a#1', parent: 't_a#0' },
      },
      {
        detailType: 'Instance Skipped',
        detail: { id: 'k', sessionId: 's1', instance: 't_a#0', cascade: true },
      },
      {
        detailType: 'Instance Failed',
        detail: {
          id: 'f',
          sessionId: 's1',
          instance: 't_a#0',
          error: { type: 'TypeError', message: 'bad\n  input\there' },
        },
      },
      { detailType: 'Session Finalized', detail: { id: 'z', sessionId: 's1', workflow: 'chain' } },
    ].map((e) => lifecycleLine(e as LifecycleEvent));

    expect(lines).toEqual([
      'lifecycle Trigger Fired s1 trigger=go scheduled=t_a#0,t_b#0',
      'lifecycle Trigger Fired s1 trigger=noop scheduled=none',
      'lifecycle Instance Replayed s1 instance=t_a#1 parent=t_a#0',
      'lifecycle Instance Skipped s1 instance=t_a#0 cascade=true',
      'lifecycle Instance Failed s1 instance=t_a#0 error=TypeError: bad input here',
      'lifecycle Session Finalized s1 workflow=chain',
    ]);
  });

  it('cuts a long error message so the line stays short', () => {
    const line = lifecycleLine({
      detailType: 'Instance Failed',
      detail: {
        id: 'f',
        sessionId: 's1',
        instance: 't_a#0',
        error: { type: 'Error', message: 'x'.repeat(5000) },
      },
    });

    expect(line.length).toBeLessThan(300);
    expect(line.endsWith('…')).toBe(true);
  });
});

describe('LifecycleLog', () => {
  it('prints each event once, in order, and keeps it under its session with when it was heard', () => {
    const printed: string[] = [];
    const log = new LifecycleLog({ print: (line) => printed.push(line), now: () => AT });

    log.record([fired('s1', 'go', ['t_a#0']), fired('s2', 'go')]);
    log.record([fired('s1', 't_a')]);

    expect(printed).toEqual([
      'lifecycle Trigger Fired s1 trigger=go scheduled=t_a#0',
      'lifecycle Trigger Fired s2 trigger=go scheduled=none',
      'lifecycle Trigger Fired s1 trigger=t_a scheduled=none',
    ]);
    expect(log.forSession('s1')).toEqual([
      { ...fired('s1', 'go', ['t_a#0']), recordedAt: AT.toISOString() },
      { ...fired('s1', 't_a'), recordedAt: AT.toISOString() },
    ]);
    expect(log.forSession('s2').map((e) => e.detail.id)).toEqual(['fired:s2:go']);
    expect(log.forSession('never')).toEqual([]);
  });

  it('keeps and prints a redelivered event (same id) once', () => {
    const printed: string[] = [];
    const log = new LifecycleLog({ print: (line) => printed.push(line) });

    log.record([fired('s1', 'go'), fired('s1', 'more')]);
    log.record([fired('s1', 'go'), fired('s1', 'more'), fired('s1', 'last')]);

    expect(log.forSession('s1').map((e) => e.detail.id)).toEqual([
      'fired:s1:go',
      'fired:s1:more',
      'fired:s1:last',
    ]);
    expect(printed).toHaveLength(3);
  });

  it('keeps the last 500 events of a session by default, dropping the oldest', () => {
    const log = new LifecycleLog();

    log.record(Array.from({ length: 520 }, (_, n) => fired('s1', `e${n}`)));

    const kept = log.forSession('s1');
    expect(kept).toHaveLength(500);
    expect(kept[0]?.detail.id).toBe('fired:s1:e20');
    expect(kept.at(-1)?.detail.id).toBe('fired:s1:e519');
  });

  it('keeps at most maxSessions sessions, dropping the one recorded into longest ago', () => {
    const log = new LifecycleLog({ maxSessions: 2, perSession: 3 });

    log.record([fired('old', 'a'), fired('mid', 'a')]);
    log.record([fired('old', 'b')]);
    log.record([fired('new', 'a')]);

    expect(log.forSession('mid')).toEqual([]);
    expect(log.forSession('old').map((e) => e.detail.id)).toEqual(['fired:old:a', 'fired:old:b']);
    expect(log.forSession('new')).toHaveLength(1);
  });

  it('prints nothing without a print function, and the copy it returns is its own', () => {
    const log = new LifecycleLog();
    log.record([fired('s1', 'go')]);

    log.forSession('s1').pop();

    expect(log.forSession('s1')).toHaveLength(1);
  });
});

describe("the inspector's lifecycle route", () => {
  it('serves the events of the session named in the path, percent-decoded', async () => {
    const log = new LifecycleLog({ now: () => AT });
    log.record([fired('survey:42', 'go', ['t_a#0']), fired('other', 'go')]);
    const inspector = createInspector({ lifecycle: log });

    const answer = await inspector.handle('GET', '/ui/lifecycle/survey%3A42');

    expect(answer?.status).toBe(200);
    expect(answer?.headers['content-type']).toBe('application/json');
    expect(answer?.headers['cache-control']).toBe('no-store');
    expect(JSON.parse(answer?.body ?? '')).toEqual({
      sessionId: 'survey:42',
      events: [{ ...fired('survey:42', 'go', ['t_a#0']), recordedAt: AT.toISOString() }],
    });
  });

  it('answers an empty list for a session it never heard of', async () => {
    const inspector = createInspector({ lifecycle: new LifecycleLog() });

    const answer = await inspector.handle('GET', '/ui/lifecycle/s9');

    expect(JSON.parse(answer?.body ?? '')).toEqual({ sessionId: 's9', events: [] });
  });

  it('answers 404 without a log, 405 to a write, 400 to a bad encoding', async () => {
    const bare = createInspector();
    const withLog = createInspector({ lifecycle: new LifecycleLog() });

    const none = await bare.handle('GET', '/ui/lifecycle/s1');
    const post = await withLog.handle('POST', '/ui/lifecycle/s1');
    const garbled = await withLog.handle('GET', '/ui/lifecycle/%E0%A4%A');

    expect(none?.status).toBe(404);
    expect(JSON.parse(none?.body ?? '')).toMatchObject({ error: { code: 'NOT_FOUND' } });
    expect(post?.status).toBe(405);
    expect(post?.headers.allow).toBe('GET, HEAD');
    expect(garbled?.status).toBe(400);
  });
});
