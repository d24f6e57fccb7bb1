/**
 * A model could not be had from the Hugging Face Hub or its cache. The message names the model (`org/name@revision`),
 * what went wrong and what to do.
 *
 * @example
 * try {
 *   await resolveModelPath('org/private-model');
 * } catch (error) {
 *   if (error instanceof HubError) console.error(error.message); // ... answered 401 ...: set HF_TOKEN ...
 * }
 */
export class HubError extends Error {
  constructor(
    message: string,
    /** True when the Hub could not be reached at all (no answer), as opposed to an answer refusing the request. */
    readonly unreachable = false,
  ) {
    super(message);
    this.name = 'HubError';
  }
}
