/**
 * The inspector's asset server: the page, its bundled script and stylesheet, and what it leaves
 * to the HTTP API. The page in a browser is `test/integration/inspector.test.ts`.
 */
import { describe, expect, it } from 'vitest';
import { createInspector } from '../../lib/local/inspector/server.ts';

describe('createInspector', () => {
  it('serves the page at /ui and /ui/, locked to its own origin', async () => {
    const inspector = createInspector();

    const page = await inspector.handle('GET', '/ui');
    const slash = await inspector.handle('GET', '/ui/');

    expect(page?.status).toBe(200);
    expect(page?.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(page?.headers['content-security-policy']).toContain("script-src 'self'");
    expect(page?.body).toContain('<script type="module" src="/ui/app.js"></script>');
    expect(slash?.body).toBe(page?.body);
  });

  it('bundles the script once into one self-contained file', async () => {
    const inspector = createInspector();

    const first = await inspector.handle('GET', '/ui/app.js');
    const second = await inspector.handle('GET', '/ui/app.js');

    expect(first?.status).toBe(200);
    expect(first?.headers['content-type']).toBe('text/javascript; charset=utf-8');
    expect(first?.body).not.toMatch(/^\s*import\s/m);
    expect(first?.body.length).toBeGreaterThan(10_000);
    expect(second?.body).toBe(first?.body);
  }, 60_000);

  it('serves the stylesheet', async () => {
    const css = await createInspector().handle('GET', '/ui/app.css');

    expect(css?.status).toBe(200);
    expect(css?.headers['content-type']).toBe('text/css; charset=utf-8');
    expect(css?.body).toContain('.status-failed');
  });

  it('leaves every other path to the HTTP API', async () => {
    const inspector = createInspector();

    expect(await inspector.handle('GET', '/sessions/s1')).toBeUndefined();
    expect(await inspector.handle('GET', '/uix')).toBeUndefined();
    expect(await inspector.handle('GET', '/workflows')).toBeUndefined();
  });

  it('answers unknown assets with 404 and writes with 405, as JSON errors', async () => {
    const inspector = createInspector();

    const missing = await inspector.handle('GET', '/ui/nope.js');
    const post = await inspector.handle('POST', '/ui');

    expect(missing?.status).toBe(404);
    expect(JSON.parse(missing?.body ?? '')).toMatchObject({ error: { code: 'NOT_FOUND' } });
    expect(post?.status).toBe(405);
    expect(post?.headers.allow).toBe('GET, HEAD');
  });
});
