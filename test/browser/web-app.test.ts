// The web app as `npm run build:web` writes it and web/serve.mjs serves it on 127.0.0.1: it opens a run directory's
// report files (attention.json per target, the fusion logs) in the explorer, ignores other files, and names a bad one.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { distinctColours, HAS_CHROMIUM, launchChromium, watchedPage } from './chromium';
import { explorerFixture } from './explorer-fixture';

const SCREENSHOTS = join('.tmp', 'explorer-screenshots');

/** Starts web/serve.mjs on a free port and resolves its address once it prints it. */
function serve(dir: string): Promise<{ server: ChildProcess; url: string }> {
  const server = spawn(process.execPath, ['web/serve.mjs', '--dir', dir, '--port', '0'], { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    server.once('exit', (code) => reject(new Error(`web/serve.mjs exited with ${code}`)));
    server.stdout?.on('data', (chunk: Buffer) => {
      const url = /http:\/\/127\.0\.0\.1:\d+\//.exec(chunk.toString())?.[0];
      if (url) resolve({ server, url });
    });
  });
}

describe.skipIf(!HAS_CHROMIUM)('the web app in chromium', () => {
  let browser: Browser;
  let server: ChildProcess | undefined;
  let page: Page;
  let errors: string[];
  let requests: string[];
  const files = mkdtempSync(join(tmpdir(), 'af-web-files-'));
  const fixture = explorerFixture();

  beforeAll(async () => {
    const site = mkdtempSync(join(tmpdir(), 'af-web-'));
    const built = spawnSync(process.execPath, ['web/build.mjs', '--out', site], { encoding: 'utf8' });
    expect(built.status, built.stderr).toBe(0);
    let url: string;
    ({ server, url } = await serve(site));
    for (const report of fixture.reports) {
      mkdirSync(join(files, report.target));
      writeFileSync(join(files, report.target, 'attention.json'), JSON.stringify(report));
    }
    const rte = fixture.training.rte as NonNullable<(typeof fixture.training)['rte']>;
    writeFileSync(join(files, 'fuse-rte.jsonl'), rte.metrics.map((line) => `${JSON.stringify(line)}\n`).join(''));
    writeFileSync(join(files, 'fuse-attention-rte.jsonl'), rte.attention.map((line) => `${JSON.stringify(line)}\n`).join(''));
    writeFileSync(join(files, 'adapter_config.json'), '{}');
    browser = await launchChromium();
    ({ page, errors, requests } = await watchedPage(browser));
    await page.goto(url);
  });

  afterAll(async () => {
    await browser?.close();
    server?.kill();
  });

  it("opens the report files and shows attention.json's numbers, the token view and the training logs", async () => {
    await page.setInputFiles('#files', ['rte/attention.json', 'cb/attention.json', 'fuse-rte.jsonl', 'fuse-attention-rte.jsonl', 'adapter_config.json'].map((name) => join(files, name)));
    await expect.poll(() => page.textContent('#status')).toBe('Showing rte, cb with training logs of rte; ignored 1 other files.');
    const rte = fixture.reports[0];
    const values = await page.evaluate<number[]>('[...document.querySelectorAll(\'section[data-target="rte"] [data-view="layers"] .cell\')].map((cell) => Number(cell.getAttribute("data-value")))');
    expect(values).toEqual([...(rte?.all.sites.flatMap((site) => site.mean) ?? []), ...(rte?.all.overall ?? [])]);
    await page.selectOption('[data-view="tokens"] .token-view[data-example="1"] select', { label: 'L0' });
    await page.hover('[data-view="tokens"] .token-view[data-example="1"] .tok[data-r="0"][data-c="2"]');
    await expect.poll(() => page.textContent('#explorer-tip')).toBe(`mnli · plot: ${rte?.tokens?.[1]?.sites[0]?.weights[2]?.[0]}`);
    expect(await page.locator('[data-view="training"] .cell').count()).toBeGreaterThan(60);
    await page.mouse.move(0, 0);
    await page.evaluate('window.scrollTo(0, 0)');
    const png = await page.screenshot({ path: join(SCREENSHOTS, 'web-app.png') });
    expect(await distinctColours(page, png)).toBeGreaterThan(20);
    expect(errors).toEqual([]);
    expect(requests).toEqual([]);
  });

  it('names a bad file and its line, and keeps the page working', async () => {
    writeFileSync(join(files, 'fuse-cb.jsonl'), '{"step":1,"loss":0.5}\n{"loss":0.4}\n');
    await page.setInputFiles('#files', [join(files, 'cb', 'attention.json'), join(files, 'fuse-cb.jsonl')]);
    await expect.poll(() => page.textContent('#status')).toBe('fuse-cb.jsonl:2: expected an object with a numeric "step", got {"loss":0.4}');
    await page.setInputFiles('#files', [join(files, 'adapter_config.json')]);
    await expect.poll(() => page.textContent('#status')).toBe('no attention.json among 1 files; run "adapterfusion inspect" and open its reports');
    expect(errors).toEqual([]);
  });
});
