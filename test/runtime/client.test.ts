/**
 * TriggersClient over the HTTP API, with an injected fetch that records requests and answers
 * with canned responses.
 */
import { describe, expect, it } from 'vitest';
import {
  InstanceStateError,
  NotFoundError,
  type SessionView,
  TriggersClient,
  TriggersError,
  ValidationError,
} from '../../lib/index.ts';
import { API, apiError, fakeFetch, json, type Recorded } from './fake-fetch.ts';
import { rejectionOf } from './fixtures.ts';

describe('TriggersClient.fire', () => {
  it('posts trigger, kwargs, eventId and workflow to the encoded session events route', async () => {
    const fake = fakeFetch(() =>
      json(202, { sessionId: 'survey:42', eventId: 'step1-42', duplicate: false }),
    );
    const client = new TriggersClient({ apiUrl: API, fetch: fake.fetch });

    await client.fire(
      'survey:42',
      'step1',
      { answers: 3 },
      { eventId: 'step1-42', workflow: 'survey' },
    );

    expect(fake.requests).toHaveLength(1);
    const req = fake.requests[0] as Recorded;
    expect(req.method).toBe('POST');
    expect(req.url).toBe(`${API}/sessions/survey%3A42/events`);
    expect(req.headers['content-type']).toBe('application/json');
    expect(req.body).toEqual({
      trigger: 'step1',
      kwargs: { answers: 3 },
      eventId: 'step1-42',
      workflow: 'survey',
    });
  });

  it('returns the eventId and duplicate flag of the answer', async () => {
    const fake = fakeFetch(() =>
      json(202, { sessionId: 's1', eventId: 'generated-1', duplicate: true }),
    );
    const client = new TriggersClient({ apiUrl: API, fetch: fake.fetch });

    const result = await client.fire('s1', 'step1');

    expect(result).toEqual({ eventId: 'generated-1', duplicate: true });
  });

  it('sends only the trigger when neither kwargs nor options are given', async () => {
    const fake = fakeFetch(() => json(202, { sessionId: 's1', eventId: 'e1', duplicate: false }));
    const client = new TriggersClient({ apiUrl: API, fetch: fake.fetch });

    await client.fire('s1', 'step1');

    expect(fake.requests[0]?.body).toEqual({ trigger: 'step1' });
  });

  it('joins an apiUrl with trailing slashes to the route with exactly one slash', async () => {
    const fake = fakeFetch(() => json(202, { sessionId: 's1', eventId: 'e1', duplicate: false }));
    const client = new TriggersClient({ apiUrl: `${API}//`, fetch: fake.fetch });

    await client.fire('s1', 'step1');

    expect(fake.requests[0]?.url).toBe(`${API}/sessions/s1/events`);
  });

  it('turns a 400 answer into a ValidationError carrying the API message', async () => {
    const fake = fakeFetch(() => apiError(400, 'VALIDATION', "'trigger' must match the pattern"));
    const client = new TriggersClient({ apiUrl: API, fetch: fake.fetch });

    const err = await rejectionOf(client.fire('s1', 'bad name'));

    expect(err).toBeInstanceOf(ValidationError);
    expect(err.message).toBe("'trigger' must match the pattern");
  });

  it('turns a 404 answer for an unknown workflow into a NotFoundError', async () => {
    const fake = fakeFetch(() => apiError(404, 'NOT_FOUND', "unknown workflow 'nope'"));
    const client = new TriggersClient({ apiUrl: API, fetch: fake.fetch });

    const err = await rejectionOf(client.fire('s1', 'step1', {}, { workflow: 'nope' }));

    expect(err).toBeInstanceOf(NotFoundError);
    expect(err.message).toBe("unknown workflow 'nope'");
  });

  it('turns a 413 answer into a ValidationError', async () => {
    const fake = fakeFetch(() => apiError(413, 'PAYLOAD_TOO_LARGE', 'body over 256 KiB'));
    const client = new TriggersClient({ apiUrl: API, fetch: fake.fetch });

    const err = await rejectionOf(client.fire('s1', 'step1', { big: 'x' }));

    expect(err).toBeInstanceOf(ValidationError);
  });

  it('turns a 500 answer into a TriggersError with status 500 and the API code', async () => {
    const fake = fakeFetch(() => apiError(500, 'INTERNAL', 'something broke'));
    const client = new TriggersClient({ apiUrl: API, fetch: fake.fetch });

    const err = await rejectionOf(client.fire('s1', 'step1'));

    expect(err).toBeInstanceOf(TriggersError);
    expect(err).not.toBeInstanceOf(ValidationError);
    expect(err).not.toBeInstanceOf(NotFoundError);
    expect((err as TriggersError).status).toBe(500);
    expect((err as TriggersError).code).toBe('INTERNAL');
    expect(err.message).toBe('something broke');
  });

  it('turns a 500 answer whose body is not JSON into a TriggersError with status 500', async () => {
    const fake = fakeFetch(() => new Response('Internal Server Error', { status: 500 }));
    const client = new TriggersClient({ apiUrl: API, fetch: fake.fetch });

    const err = await rejectionOf(client.fire('s1', 'step1'));

    expect(err).toBeInstanceOf(TriggersError);
    expect((err as TriggersError).status).toBe(500);
    expect(err.message).toContain('500');
  });
});

describe('TriggersClient.getSession', () => {
  const view: SessionView = {
    sessionId: 's1',
    workflow: 'survey',
    fired: { step1: { count: 1 } },
    instances: [
      {
        name: 't_a#0',
        task: 't_a',
        status: 'finished',
        kwargs: { step1: {} },
        result: { ok: true },
        attempt: 0,
        createdAt: '2026-01-01T00:00:00.000Z',
        updatedAt: '2026-01-01T00:00:01.000Z',
      },
    ],
    unresolvedTasks: [],
    unresolvedInstances: [],
    unresolvedLogs: [],
  };

  it('gets the encoded session route and returns the JSON view', async () => {
    const fake = fakeFetch(() => json(200, view));
    const client = new TriggersClient({ apiUrl: API, fetch: fake.fetch });

    const result = await client.getSession('survey:42');

    expect(result).toEqual(view);
    expect(fake.requests[0]?.method).toBe('GET');
    expect(fake.requests[0]?.url).toBe(`${API}/sessions/survey%3A42`);
    expect(fake.requests[0]?.body).toBeUndefined();
  });

  it('returns undefined when the session does not exist (404)', async () => {
    const fake = fakeFetch(() => apiError(404, 'NOT_FOUND', "session 's1' does not exist"));
    const client = new TriggersClient({ apiUrl: API, fetch: fake.fetch });

    const result = await client.getSession('s1');

    expect(result).toBeUndefined();
  });

  it('rejects with a TriggersError of status 500 when the API fails', async () => {
    const fake = fakeFetch(() => apiError(500, 'INTERNAL', 'store unavailable'));
    const client = new TriggersClient({ apiUrl: API, fetch: fake.fetch });

    const err = await rejectionOf(client.getSession('s1'));

    expect(err).toBeInstanceOf(TriggersError);
    expect((err as TriggersError).status).toBe(500);
  });
});

describe('TriggersClient.replayFailed and skipFailed', () => {
  it("replays by posting the replacement kwargs to the instance route with '#' encoded", async () => {
    const fake = fakeFetch(() => new Response(null, { status: 202 }));
    const client = new TriggersClient({ apiUrl: API, fetch: fake.fetch });

    await client.replayFailed('s1', 't_a#0', { step1: { fixed: true } });

    expect(fake.requests[0]?.method).toBe('POST');
    expect(fake.requests[0]?.url).toBe(`${API}/sessions/s1/instances/t_a%230/replay`);
    expect(fake.requests[0]?.body).toEqual({ kwargs: { step1: { fixed: true } } });
  });

  it('replays without replacement kwargs by posting an empty object', async () => {
    const fake = fakeFetch(() => new Response(null, { status: 202 }));
    const client = new TriggersClient({ apiUrl: API, fetch: fake.fetch });

    await client.replayFailed('s1', 't_a#0');

    expect(fake.requests[0]?.body).toEqual({});
  });

  it("skips by posting cascade and result to the instance route with '#' encoded", async () => {
    const fake = fakeFetch(() => new Response(null, { status: 202 }));
    const client = new TriggersClient({ apiUrl: API, fetch: fake.fetch });

    await client.skipFailed('s1', 't_a#0', { cascade: true, result: { score: 0 } });

    expect(fake.requests[0]?.method).toBe('POST');
    expect(fake.requests[0]?.url).toBe(`${API}/sessions/s1/instances/t_a%230/skip`);
    expect(fake.requests[0]?.body).toEqual({ cascade: true, result: { score: 0 } });
  });

  it('skips without options by posting an empty object', async () => {
    const fake = fakeFetch(() => new Response(null, { status: 202 }));
    const client = new TriggersClient({ apiUrl: API, fetch: fake.fetch });

    await client.skipFailed('s1', 't_a#0');

    expect(fake.requests[0]?.body).toEqual({});
  });

  it('turns a 409 INSTANCE_NOT_FAILED answer into an InstanceStateError naming the instance', async () => {
    const message = "cannot skip instance 't_a#0': it is finished";
    const fake = fakeFetch(() => apiError(409, 'INSTANCE_NOT_FAILED', message));
    const client = new TriggersClient({ apiUrl: API, fetch: fake.fetch });

    const err = await rejectionOf(client.skipFailed('s1', 't_a#0'));

    expect(err).toBeInstanceOf(InstanceStateError);
    expect((err as InstanceStateError).instance).toBe('t_a#0');
    expect(err.message).toBe(message);
  });

  it('turns a 404 answer for a missing instance into a NotFoundError', async () => {
    const fake = fakeFetch(() => apiError(404, 'NOT_FOUND', "instance 't_a#9' does not exist"));
    const client = new TriggersClient({ apiUrl: API, fetch: fake.fetch });

    const err = await rejectionOf(client.replayFailed('s1', 't_a#9'));

    expect(err).toBeInstanceOf(NotFoundError);
  });
});
