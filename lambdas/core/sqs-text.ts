/*
 * Message bodies SQS accepts. SQS refuses a body holding a character outside #x9 #xA #xD #x20-#xD7FF
 * #xE000-#xFFFD #x10000-#x10FFFF (SendMessage, "MessageBody"); the local SQS emulator tests UTF-16 code
 * units, so it refuses characters above U+FFFF as well. A message is therefore JSON in which every code
 * unit outside #x9 #xA #xD #x20-#xD7FF #xE000-#xFFFD is written as a `\uXXXX` escape: the same JSON
 * value for any consumer, and a body both accept. Escapes make the body longer than the data (an emoji
 * becomes 12 bytes instead of 4, U+FFFE 6 instead of 3), so size limits are checked on this form.
 */

// biome-ignore lint/suspicious/noControlCharactersInRegex: the allowed set, as SQS documents it
const SQS_REFUSED_UNIT = /[^\x09\x0A\x0D\x20-\uD7FF\uE000-\uFFFD]/g;

/** `value` as JSON whose every character SQS takes in a message body. */
export function sqsSafeJson(value: unknown): string {
  return escapeUnitsSqsRefuses(JSON.stringify(value));
}

/**
 * JSON text (as JSON.stringify writes it) with every refused code unit written as a `\\uXXXX` escape:
 * JSON.stringify leaves such units only inside strings, so the value is unchanged.
 */
export function escapeUnitsSqsRefuses(json: string): string {
  return json.replace(SQS_REFUSED_UNIT, (unit) => `\\u${unit.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/**
 * `items` in SendMessageBatch-sized groups, in order: at most `limits.entries` items, and at most
 * `limits.bytes` of message bodies unless one body alone is larger (SQS then refuses that entry alone).
 */
export function inSendMessageBatches<T>(
  items: readonly T[],
  bodyOf: (item: T) => string,
  limits: { readonly entries: number; readonly bytes: number },
): T[][] {
  const batches: T[][] = [];
  let current: T[] = [];
  let bytes = 0;
  for (const item of items) {
    const size = Buffer.byteLength(bodyOf(item));
    if (current.length > 0 && (current.length === limits.entries || bytes + size > limits.bytes)) {
      batches.push(current);
      current = [];
      bytes = 0;
    }
    current.push(item);
    bytes += size;
  }
  if (current.length > 0) batches.push(current);
  return batches;
}
