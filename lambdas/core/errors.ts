/** One problem with one field of a client's input: `field` is a dotted path (`events.0.activityTypes`). */
export interface FieldIssue {
  readonly field: string;
  readonly message: string;
}

/**
 * A mistake the caller made. The API maps it to a 4xx with `{"error": {code, message, details}}`;
 * everything that is not a ClientError is a plain 500 whose details go to the log only.
 */
export class ClientError extends Error {
  constructor(
    readonly status: 400 | 401 | 403 | 404 | 409 | 413 | 415 | 422,
    readonly code: string,
    message: string,
    readonly details: readonly FieldIssue[] = [],
  ) {
    super(message);
    this.name = 'ClientError';
  }
}

/** The input failed validation; `details` names every field and why. */
export class ValidationError extends ClientError {
  constructor(details: readonly FieldIssue[], message = 'The request is invalid') {
    super(422, 'validation_failed', message, details);
    this.name = 'ValidationError';
  }
}
