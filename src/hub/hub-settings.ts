import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

/** Where and how the Hub is reached, from the environment variables huggingface_hub reads. */
export interface HubSettings {
  /** `HF_ENDPOINT`, default `https://huggingface.co`, without a trailing slash. */
  endpoint: string;
  /** `HF_TOKEN`, else the token `huggingface-cli login` saved in `HF_HOME/token`; undefined when neither is set. */
  token: string | undefined;
  /** `HF_HUB_CACHE`, else `HF_HOME/hub`, else `XDG_CACHE_HOME/huggingface/hub`, else `~/.cache/huggingface/hub`. */
  cacheDir: string;
  /** `HF_HUB_OFFLINE` set to 1, true, yes or on: the network is never used. */
  offline: boolean;
}

const TRUE = new Set(['1', 'true', 'yes', 'on']);

/** The settings the environment `env` gives. */
export function hubSettings(env: NodeJS.ProcessEnv = process.env): HubSettings {
  const home = env.HF_HOME ?? join(env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'huggingface');
  const tokenFile = join(home, 'token');
  const savedToken = existsSync(tokenFile) ? readFileSync(tokenFile, 'utf8').trim() : '';
  return {
    endpoint: (env.HF_ENDPOINT ?? 'https://huggingface.co').replace(/\/+$/, ''),
    token: env.HF_TOKEN || savedToken || undefined,
    cacheDir: env.HF_HUB_CACHE ?? join(home, 'hub'),
    offline: TRUE.has((env.HF_HUB_OFFLINE ?? '').toLowerCase()),
  };
}
