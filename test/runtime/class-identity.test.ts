/**
 * `instanceof` across two copies of the package (its ES module and CommonJS builds loaded in
 * one process): a second copy of the modules, loaded under another module id, stands in for
 * the other build. The packed tarball's own check is in test/package.
 */
import { describe, expect, it } from 'vitest';
import * as errors from '../../lib/errors.ts';
import { Retry, Skip } from '../../lib/handler.ts';

type ErrorsModule = typeof errors;
type HandlerModule = typeof import('../../lib/handler.ts');

/** The same source files under other module ids: vitest loads them again, as a second copy. */
const COPY = {
  errors: '../../lib/errors.ts?copy=other',
  handler: '../../lib/handler.ts?copy=other',
};

const other = async (): Promise<{ errors: ErrorsModule; handler: HandlerModule }> => ({
  errors: (await import(COPY.errors)) as ErrorsModule,
  handler: (await import(COPY.handler)) as HandlerModule,
});

describe('classes shared by both builds', () => {
  it('are distinct classes in the two copies (so a plain prototype check would say no)', async () => {
    const copy = await other();
    expect(copy.errors.ValidationError).not.toBe(errors.ValidationError);
    expect(Object.getPrototypeOf(new copy.errors.ValidationError('x'))).not.toBe(
      errors.ValidationError.prototype,
    );
  });

  it('recognise an error of the other copy as their own class and its ancestors', async () => {
    const copy = await other();
    const theirs = new copy.errors.ValidationError('bad name');
    expect(theirs).toBeInstanceOf(errors.ValidationError);
    expect(theirs).toBeInstanceOf(errors.TriggersError);
    expect(new errors.NotFoundError('gone')).toBeInstanceOf(copy.errors.TriggersError);
  });

  it('tell the subclasses of the other copy apart', async () => {
    const copy = await other();
    expect(new copy.errors.ValidationError('x') instanceof errors.NotFoundError).toBe(false);
    expect(
      new copy.errors.TriggersError('x', { code: 'INTERNAL' }) instanceof errors.ValidationError,
    ).toBe(false);
  });

  it('recognise a Retry or a Skip thrown by the other copy, and nothing else', async () => {
    const copy = await other();
    expect(new copy.handler.Retry({ cooldownSeconds: 5 })).toBeInstanceOf(Retry);
    expect(new copy.handler.Skip({ why: 'empty' })).toBeInstanceOf(Skip);
    expect(new copy.handler.Skip() instanceof Retry).toBe(false);
    expect(new Error('retry') instanceof Retry).toBe(false);
    expect(Object.assign(new Error('x'), { name: 'Retry' }) instanceof Retry).toBe(false);
    expect((null as unknown) instanceof errors.TriggersError).toBe(false);
  });

  it('recognise subclasses a user derives from them', () => {
    class PaymentDeclined extends errors.ValidationError {}
    const declined = new PaymentDeclined('declined');
    expect(declined).toBeInstanceOf(PaymentDeclined);
    expect(declined).toBeInstanceOf(errors.TriggersError);
    expect(new errors.ValidationError('x') instanceof PaymentDeclined).toBe(false);
  });
});
