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

/** Another subscription of the brand has this name (names are unique per brand, ignoring case). */
export function subscriptionNameTaken(name: string): ClientError {
  const message = `A subscription named "${name}" already exists`;
  return new ClientError(409, 'name_taken', message, [{ field: 'name', message }]);
}

/** The brand has as many subscriptions as its quota (`maxSubscriptionsPerBrand`) allows. */
export function subscriptionQuotaReached(max: number): ClientError {
  const message = `This brand has ${max} subscriptions, the most its quota allows; delete one first`;
  return new ClientError(409, 'subscription_quota_exceeded', message, [
    { field: '(body)', message: `at most ${max} subscriptions per brand (maxSubscriptionsPerBrand)` },
  ]);
}
