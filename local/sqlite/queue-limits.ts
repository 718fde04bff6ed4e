/*
 * The SQS numbers the local queues keep, each from the AWS documentation it comes from, and the checks of
 * what SQS refuses. A local send or receive fails exactly where SQS would refuse it, with SQS's error code.
 */

/**
 * Largest message (body and message attributes together): 262,144 bytes (256 KiB).
 * https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/quotas-messages.html
 * ("Message size"). Queues may be raised to 1 MiB; this project's are written for 256 KiB.
 */
export const MAX_MESSAGE_BYTES = 262_144;

/**
 * A SendMessageBatch carries at most 10 entries, and all of them together at most the message size.
 * https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_SendMessageBatch.html
 */
export const MAX_BATCH_ENTRIES = 10;
export const MAX_BATCH_BYTES = MAX_MESSAGE_BYTES;

/**
 * A ReceiveMessage returns 1 to 10 messages.
 * https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_ReceiveMessage.html
 */
export const MAX_RECEIVE_MESSAGES = 10;

/**
 * DelaySeconds (message timers and delay queues): 0 to 900 seconds (15 minutes).
 * https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/quotas-messages.html
 * ("Message timer", "Delay queue").
 */
export const MAX_DELAY_SECONDS = 900;

/**
 * Visibility timeout: 0 seconds to 12 hours, and ChangeMessageVisibility cannot take a message's visibility
 * beyond 12 hours after its receive in all.
 * https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/quotas-messages.html
 * ("Message visibility timeout"); https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_ChangeMessageVisibility.html
 */
export const MAX_VISIBILITY_TIMEOUT_SECONDS = 43_200;

/**
 * In-flight messages (received, neither deleted nor visible again) per standard queue: about 120,000.
 * At the limit a long-polling receive returns nothing (a short poll gets OverLimit; the local pollers
 * play long polling). https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/quotas-messages.html
 * ("Inflight messages per queue"). Tests lower it with WEBHOOKS_QUEUE_INFLIGHT_LIMIT.
 */
export const STANDARD_QUEUE_IN_FLIGHT_LIMIT = 120_000;

/**
 * Fair queues: a tenant (MessageGroupId) is a noisy neighbour when it holds more than 10 % of the queue's
 * in-flight messages and at least 30 of its own; quiet tenants' messages are then returned first, and among
 * noisy tenants the one with the fewest in flight first. A message without a group is a tenant of its own.
 * https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-fair-queues-detailed.html
 * ("How detection works"). The other measure there, the share of consumer processing time, is not modelled.
 */
export const FAIR_QUEUE_NOISY_SHARE = 0.1;
export const FAIR_QUEUE_NOISY_MIN_IN_FLIGHT = 30;

/**
 * MessageGroupId: 1 to 128 characters of a-z A-Z 0-9 and punctuation.
 * https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_SendMessage.html
 */
const MESSAGE_GROUP_ID = /^[\x21-\x7E]{1,128}$/;

/**
 * The characters a body may hold: #x9 | #xA | #xD | #x20 to #xD7FF | #xE000 to #xFFFD | #x10000 to #x10FFFF.
 * https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_SendMessage.html (MessageBody).
 * By code point: a character above U+FFFF (an emoji) is allowed; a lone surrogate is not.
 */
// biome-ignore lint/suspicious/noControlCharactersInRegex: the allowed set, as SQS documents it
const REFUSED_CHARACTER = /[^\x09\x0A\x0D\x20-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/u;

/** An SQS error: `code` is the one SQS answers with. */
export class QueueError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'QueueError';
  }
}

export interface OutgoingMessage {
  readonly body: string;
  readonly delaySeconds?: number;
  readonly groupId?: string;
  /** String message attributes (counted in the size, as SQS counts name, type and value). */
  readonly attributes?: Readonly<Record<string, string>>;
}

/** The message's size as SQS counts it: the body and each attribute's name, data type and value. */
export function messageBytes(message: OutgoingMessage): number {
  let bytes = Buffer.byteLength(message.body);
  for (const [name, value] of Object.entries(message.attributes ?? {}))
    bytes += Buffer.byteLength(name) + 'String'.length + Buffer.byteLength(value);
  return bytes;
}

/** Throws the QueueError SQS would answer a SendMessage of this message with. */
export function checkOutgoing(message: OutgoingMessage): void {
  const delay = message.delaySeconds ?? 0;
  if (!Number.isInteger(delay) || delay < 0 || delay > MAX_DELAY_SECONDS)
    throw new QueueError(
      'InvalidParameterValue',
      `Value ${delay} for parameter DelaySeconds is invalid. Reason: must be >= 0 and <= ${MAX_DELAY_SECONDS}.`,
    );
  if (message.body.length === 0)
    throw new QueueError('MissingParameter', 'The request must contain the parameter MessageBody.');
  if (REFUSED_CHARACTER.test(message.body))
    throw new QueueError(
      'InvalidMessageContents',
      'Invalid characters found. Valid unicode characters are #x9 | #xA | #xD | #x20 to #xD7FF | #xE000 to #xFFFD | #x10000 to #x10FFFF',
    );
  if (messageBytes(message) > MAX_MESSAGE_BYTES)
    throw new QueueError(
      'InvalidParameterValue',
      `One or more parameters are invalid. Reason: Message must be shorter than ${MAX_MESSAGE_BYTES} bytes.`,
    );
  if (message.groupId !== undefined && !MESSAGE_GROUP_ID.test(message.groupId))
    throw new QueueError(
      'InvalidParameterValue',
      'MessageGroupId must be 1 to 128 printable ASCII characters.',
    );
}

/** Throws what SQS answers a SendMessageBatch that breaks a request-level limit with. */
export function checkBatch(messages: readonly OutgoingMessage[]): void {
  if (messages.length === 0)
    throw new QueueError('EmptyBatchRequest', 'There should be at least one SendMessageBatchRequestEntry.');
  if (messages.length > MAX_BATCH_ENTRIES)
    throw new QueueError(
      'TooManyEntriesInBatchRequest',
      `Maximum number of entries per request are ${MAX_BATCH_ENTRIES}. You have sent ${messages.length}.`,
    );
  const total = messages.reduce((sum, message) => sum + messageBytes(message), 0);
  if (total > MAX_BATCH_BYTES)
    throw new QueueError(
      'BatchRequestTooLong',
      `Batch requests cannot be longer than ${MAX_BATCH_BYTES} bytes. You have sent ${total} bytes.`,
    );
}

export function checkVisibilityTimeout(seconds: number): void {
  if (!Number.isInteger(seconds) || seconds < 0 || seconds > MAX_VISIBILITY_TIMEOUT_SECONDS)
    throw new QueueError(
      'InvalidParameterValue',
      `Value ${seconds} for parameter VisibilityTimeout is invalid. Reason: must be between 0 and ${MAX_VISIBILITY_TIMEOUT_SECONDS}.`,
    );
}
