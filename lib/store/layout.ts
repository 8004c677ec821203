/**
 * The session table's layout, in one place: key names and prefixes, attribute names, index
 * names and item shapes. Only the stores read it (and the wiring's stream filters, which match
 * on its prefixes). Imports nothing.
 *
 * @module
 */

/** The single table's key schema and settings. */
export const TABLE = {
  partitionKey: 'pk',
  sortKey: 'sk',
  /** Epoch seconds after which DynamoDB may delete an item. */
  ttlAttribute: 'expiresAt',
  streamView: 'NEW_AND_OLD_IMAGES',
  billing: 'PAY_PER_REQUEST',
} as const;

/** Item keys: one partition per session, one sort key per head, event and instance. */
export const keys = {
  session: (sessionId: string): string => `S#${sessionId}`,
  head: 'HEAD',
  eventPrefix: 'EVT#',
  event: (eventId: string): string => `EVT#${eventId}`,
  instancePrefix: 'INST#',
  instance: (name: string): string => `INST#${name}`,
} as const;

/** The largest number of items in one `TransactWriteItems`. */
export const MAX_TRANSACTION_ITEMS = 100;
