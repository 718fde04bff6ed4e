import { TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import { describe, expect, it } from 'vitest';
import {
  cancellationCodes,
  createDocumentClient,
  decodeCursor,
  encodeCursor,
  fromItem,
} from '../../../lambdas/adapters/dynamo-common.js';
import { ClientError } from '../../../lambdas/core/errors.js';

const ID = /^sub_[A-Za-z0-9_-]{16}$/;

describe('the document client helper', () => {
  it('drops undefined values and never turns class instances into maps', () => {
    const client = createDocumentClient({ region: 'eu-west-1' });
    expect(client.config.translateConfig?.marshallOptions).toMatchObject({
      removeUndefinedValues: true,
      convertClassInstanceToMap: false,
    });
  });
});

describe('page cursors', () => {
  it('round-trip the id they carry', () => {
    const cursor = encodeCursor('sub_AAAAAAAAAAAAAAAA');
    expect(cursor).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(decodeCursor(cursor, ID)).toBe('sub_AAAAAAAAAAAAAAAA');
  });

  it.each([
    ['not base64url', '!!!'],
    ['empty', ''],
    ['base64url of something else', Buffer.from('{"pk":"BRAND#other"}').toString('base64url')],
    ['padded base64', `${encodeCursor('sub_AAAAAAAAAAAAAAAA')}==`],
  ])('refuse a cursor that is %s as a 400 invalid_cursor on the cursor field', (_, cursor) => {
    try {
      decodeCursor(cursor, ID);
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(ClientError);
      expect(error).toMatchObject({ status: 400, code: 'invalid_cursor', details: [{ field: 'cursor' }] });
    }
  });
});

describe('stored items', () => {
  it('lose their key, index and TTL attributes when mapped back to domain objects', () => {
    const item = { pk: 'a', sk: 'b', gsi1pk: 'c', gsi1sk: 'd', expiresAt: 1, id: 'x', status: 'pending' };
    expect(fromItem(item)).toEqual({ id: 'x', status: 'pending' });
  });
});

describe('transaction cancellations', () => {
  it('yield their reason codes in request order, and nothing for other errors', () => {
    const error = new TransactionCanceledException({
      message: 'x',
      $metadata: {},
      CancellationReasons: [{ Code: 'None' }, { Code: 'ConditionalCheckFailed' }],
    });
    expect(cancellationCodes(error)).toEqual(['None', 'ConditionalCheckFailed']);
    expect(cancellationCodes(new Error('boom'))).toBeUndefined();
  });
});
