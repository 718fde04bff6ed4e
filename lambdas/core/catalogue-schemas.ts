import * as z from 'zod';
import { jsonObjectSchema } from './json-object.js';

/*
 * The data shapes CommBox producers put in `Detail.data` (the CommBox producers' contract): the
 * identifying field required, the rest optional, values kept as sent, undeclared keys stripped on parse
 * (why: docs/DECISIONS.md, "Catalogue and events in"). Each event's schema is a builder, called on first
 * use (catalogue.ts): building every zod schema at load would cost cold-start time.
 */

/** CommBox ids: a non-negative integer or a numeric string (ids reach 16 digits, past 2^53). */
export const commboxId = z.union([z.number().int().nonnegative(), z.string().regex(/^\d{1,20}$/)], {
  error: 'must be a non-negative integer or a numeric string',
});

/** Small enumerations (status, type) arrive as numbers or numeric strings. */
const numericCode = z.union([z.number().int(), z.string().regex(/^-?\d{1,9}$/)], {
  error: 'must be an integer or a numeric string',
});

const identity = z.object({ Id: commboxId });
const user = z.object({ Id: commboxId, Identity: identity.optional() });
const tagRef = z.object({ Id: commboxId, Name: z.string().optional() });
const tagAction = z.enum(['Add', 'Remove']);

const objectHead = {
  Id: commboxId,
  StreamId: commboxId.optional(),
  SubStreamId: commboxId.optional(),
};

const message = {
  Type: numericCode.optional(),
  CreateDate: z.string().optional(),
  Message: z.string().optional(),
  Content: z.string().optional(),
  User: user.optional(),
};

export const objectOnNew = () =>
  z.object({
    ...objectHead,
    ...message,
    StatusID: numericCode.optional(),
    ManagerId: commboxId.optional(),
    Snippet: z.string().optional(),
  });

export const objectOnNewChild = () =>
  z.object({
    ...objectHead,
    Children: z.array(z.object({ Id: commboxId, ...message })).min(1),
  });

export const activity = () =>
  z.object({
    Id: commboxId,
    /** The activity type the `activityTypes` component filters on; unknown future types still pass. */
    Type: numericCode,
    CreateDate: z.string().optional(),
    User: user.optional(),
    /** Published as a JSON string (`{"statusId": 8}`); producers may also send the object. */
    Data: z.union([z.string(), jsonObjectSchema]).optional(),
  });

export const objectOnNewActivity = () =>
  z.object({
    ...objectHead,
    Activities: z.array(activity()).min(1),
  });

export const objectOnUpdateTag = () =>
  z.object({
    Id: commboxId,
    StreamId: commboxId.optional(),
    Action: tagAction,
    Tag: tagRef,
  });

export const userOnChange = () =>
  z.object({
    Id: commboxId,
    Identity: identity.optional(),
    Content: jsonObjectSchema.optional(),
  });

export const userOnUpdateTag = () => z.object({ Id: commboxId, Action: tagAction, Tag: tagRef });

export const satisfactionOnSubmit = () =>
  z.object({
    ObjectId: commboxId,
    Score: z.union([z.number(), z.string().regex(/^-?\d+(\.\d+)?$/)]),
    Description: z.string().optional(),
  });

export const formOnSubmit = () =>
  z.object({
    ObjectId: commboxId,
    FormUrl: z.string().optional(),
    /** A JSON string, as CommBox publishes it. */
    Properties: z.string().refine(isJson, { error: 'must be a JSON string' }).optional(),
  });

export const chatOnUserExit = () =>
  z.object({
    User: z.object({ Id: commboxId }),
    Object: z.object({ Id: commboxId }),
  });

/** Tag settings carry string values, as published. */
export const tagOnChange = () =>
  z.object({
    tagId: z.string().min(1),
    name: z.string(),
    groupId: z.string().optional(),
    isObject: z.string().optional(),
    isUser: z.string().optional(),
    type: z.string().optional(),
    unit: z.string().optional(),
  });

function isJson(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}
