/** A model on the Hub: its repository and the revision (branch, tag or commit) wanted. */
export interface HubId {
  /** `name` or `org/name`. */
  repoId: string;
  /** Default `main`. */
  revision: string;
}

// Hub repository names: letters, digits, `-`, `_`, `.`; not starting or ending with `-` or `.`, no `--` or `..`.
const NAME = '[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?';
const HUB_ID = new RegExp(`^(${NAME}(?:/${NAME})?)(?:@([^\\s@]+))?$`);

/** True for a 40-hex-digit commit hash. */
export function isCommitHash(revision: string): boolean {
  return /^[0-9a-f]{40}$/.test(revision);
}

/**
 * `bert-base-uncased`, `org/name` or `org/name@revision` as a Hub id; null for anything else (a path such as
 * `./models/x`, `/abs/dir`, `a/b/c` or `..`).
 *
 * @example
 * parseHubId('FacebookAI/roberta-base@main'); // { repoId: 'FacebookAI/roberta-base', revision: 'main' }
 */
export function parseHubId(text: string): HubId | null {
  const match = HUB_ID.exec(text);
  if (match === null || /--|\.\./.test(match[1] as string)) return null;
  return { repoId: match[1] as string, revision: match[2] ?? 'main' };
}
