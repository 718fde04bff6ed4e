import type { SQSClient } from '@aws-sdk/client-sqs';
import { escapeUnitsSqsRefuses } from '../../lambdas/core/sqs-text.js';

/*
 * fauxqs tests a body's UTF-16 code units, not its characters, so it refuses the surrogates of any
 * character above U+FFFF (an emoji) that real SQS takes. The handlers' bodies are JSON, so in the emulator
 * mode their SQS client writes those units as `\uXXXX` escapes before sending: the same JSON value, and
 * every consumer reads back the very same text. The deployed handlers never get this middleware.
 */

interface SendInput {
  MessageBody?: string;
  Entries?: { MessageBody?: string }[];
}

const MIDDLEWARE_NAME = 'escapeBodiesFauxqsRefuses';

export function escapeBodiesFauxqsRefuses(client: SQSClient): void {
  const stack = client.middlewareStack;
  stack.remove(MIDDLEWARE_NAME);
  stack.add(
    (next) => async (args) => {
      const input = args.input as SendInput;
      const escaped: SendInput = {
        ...input,
        ...(typeof input.MessageBody === 'string'
          ? { MessageBody: escapeUnitsSqsRefuses(input.MessageBody) }
          : {}),
        ...(input.Entries
          ? {
              Entries: input.Entries.map((entry) =>
                typeof entry.MessageBody === 'string'
                  ? { ...entry, MessageBody: escapeUnitsSqsRefuses(entry.MessageBody) }
                  : entry,
              ),
            }
          : {}),
      };
      return next({ ...args, input: escaped as typeof args.input });
    },
    { step: 'initialize', name: MIDDLEWARE_NAME },
  );
}
