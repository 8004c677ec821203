/**
 * A fake `fetch` for the client's narrow unit tests: it records each request (its body parsed as
 * JSON) and answers with a given response, plus the response helpers those tests share.
 */

/** A request the fake fetch saw. */
export interface Recorded {
  url: string;
  method: string;
  headers: Record<string, string>;
  body: unknown;
}

/** A fetch that records each request and answers with `respond`'s response. */
export function fakeFetch(respond: (req: Recorded) => Response = () => json(202, {})) {
  const requests: Recorded[] = [];
  const fetchFn = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const raw = init?.body;
    const req: Recorded = {
      url: String(input),
      method: init?.method ?? 'GET',
      headers: Object.fromEntries(new Headers(init?.headers).entries()),
      body: typeof raw === 'string' ? JSON.parse(raw) : undefined,
    };
    requests.push(req);
    return respond(req);
  };
  return { fetch: fetchFn as typeof fetch, requests };
}

export function json(status: number, body: unknown): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { 'content-type': 'application/json' },
  });
}

export function apiError(status: number, code: string, message: string): Response {
  return json(status, { error: { code, message } });
}

export const API = 'https://api.example.test/prod';
