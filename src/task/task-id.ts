import { Matches } from 'class-validator';

/**
 * Task ids: lower-case letters, digits, `_` and `-`. They name run-directory folders (`<run>/adapters/<id>`) and are
 * what configurations refer to tasks by, so one rule holds for plugins and configurations.
 */
const TASK_ID = /^[a-z0-9_-]+$/;

/** What a task id is, as error messages say it. */
export const TASK_ID_RULE = 'a task id (lower-case letters, digits, "_" or "-")';

/** Whether `value` is a task id. */
export function isTaskId(value: string): boolean {
  return TASK_ID.test(value);
}

/** Validation decorator for a configuration field that holds a task id. */
export function IsTaskId(): PropertyDecorator {
  return Matches(TASK_ID, { message: `must be ${TASK_ID_RULE}` });
}
