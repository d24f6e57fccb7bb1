// The explorer page `inspect` writes, in headless chromium: it loads cleanly offline, shows attention.json's numbers,
// answers hover and keyboard with exact values, re-shades the token view per site, reads without JavaScript, and each
// view renders (screenshots in .tmp/explorer-screenshots, checked non-blank).
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { attentionHtml, type AttentionReport } from '../../fusion/index';
import { distinctColours, HAS_CHROMIUM, launchChromium, watchedPage } from './chromium';
import { explorerFixture } from './explorer-fixture';

const SCREENSHOTS = join('.tmp', 'explorer-screenshots');

interface Cell {
  r: number;
  c: number;
  label: string;
  value: number;
}

/** The focusable cells under a selector, as the page carries them. */
function cells(page: Page, selector: string): Promise<Cell[]> {
  return page.evaluate<Cell[]>(`[...document.querySelectorAll(${JSON.stringify(`${selector} .cell`)})].map((cell) => ({
    r: Number(cell.getAttribute('data-r')), c: Number(cell.getAttribute('data-c')), label: cell.getAttribute('data-label'), value: Number(cell.getAttribute('data-value')),
  }))`);
}

describe.skipIf(!HAS_CHROMIUM)('the attention explorer in chromium', () => {
  let browser: Browser;
  let page: Page;
  let errors: string[];
  let requests: string[];
  let rte: AttentionReport;
  let cb: AttentionReport;
  let file: string;

  beforeAll(async () => {
    // The page is made from attention.json files read back from disk, as `inspect` writes them.
    const dir = mkdtempSync(join(tmpdir(), 'af-explorer-'));
    const fixture = explorerFixture();
    for (const report of fixture.reports) {
      mkdirSync(join(dir, report.target));
      writeFileSync(join(dir, report.target, 'attention.json'), JSON.stringify(report));
    }
    [rte, cb] = fixture.reports.map((report) => JSON.parse(readFileSync(join(dir, report.target, 'attention.json'), 'utf8')) as AttentionReport) as [AttentionReport, AttentionReport];
    file = join(dir, 'attention.html');
    writeFileSync(file, attentionHtml({ reports: [rte, cb], training: fixture.training }));
    browser = await launchChromium();
    ({ page, errors, requests } = await watchedPage(browser));
    await page.goto(pathToFileURL(file).href);
  });

  afterAll(async () => {
    await browser?.close();
  });

  it('loads with no console error and no request beyond the file', () => {
    expect(errors).toEqual([]);
    expect(requests).toEqual([]);
  });

  it("shows attention.json's numbers exactly: layer heatmaps, per class, target × adapter matrix, ablation", async () => {
    const layers = await cells(page, 'section[data-target="rte"] [data-view="layers"]');
    expect(layers).toHaveLength((rte.all.sites.length + 1) * 3);
    for (const cell of layers) {
      const row = cell.r < rte.all.sites.length ? rte.all.sites[cell.r]?.mean : rte.all.overall;
      expect(cell.value).toBe(row?.[cell.c]);
    }
    const classes = await cells(page, 'section[data-target="rte"] [data-view="classes"] figure:nth-child(2)');
    expect(classes.map((cell) => cell.value)).toEqual([...(rte.perClass?.[1]?.sites.flatMap((site) => site.mean) ?? []), ...(rte.perClass?.[1]?.overall ?? [])]);
    // The matrix: rows rte and cb, columns mnli, sst2, rte; cb has no sst2 cell.
    const matrix = await cells(page, '[data-view="targets"] > svg');
    expect(matrix.map((cell) => [cell.label, cell.value])).toEqual([
      ['rte · mnli', rte.all.overall[0]],
      ['rte · sst2', rte.all.overall[1]],
      ['rte · rte', rte.all.overall[2]],
      ['cb · mnli', cb.all.overall[0]],
      ['cb · rte', cb.all.overall[1]],
    ]);
    const ablation = await cells(page, '[data-view="ablation"]');
    const { full, withoutAdapter } = rte.ablation as NonNullable<AttentionReport['ablation']>;
    expect(ablation.map((cell) => cell.value)).toEqual(withoutAdapter.map((value) => value - full));
  });

  it('shows the exact value of the cell under the pointer and of the cell with keyboard focus, arrow keys moving it', async () => {
    const tip = page.locator('#explorer-tip');
    await page.hover('section[data-target="rte"] [data-view="layers"] rect.cell[data-r="2"][data-c="1"]');
    await expect.poll(() => tip.textContent()).toBe(`L2 · sst2: ${rte.all.sites[2]?.mean[1]}`);
    expect(await tip.isVisible()).toBe(true);

    await page.focus('section[data-target="rte"] [data-view="layers"] rect.cell[data-r="0"][data-c="0"]');
    await page.keyboard.press('ArrowRight');
    await page.keyboard.press('ArrowDown');
    const focused = await page.evaluate<string>('document.activeElement.getAttribute("data-label") + "=" + document.activeElement.getAttribute("data-value")');
    expect(focused).toBe(`L1 · sst2=${rte.all.sites[1]?.mean[1]}`);
    expect(await tip.textContent()).toBe(`L1 · sst2: ${rte.all.sites[1]?.mean[1]}`);
    expect(await page.evaluate<string>('getComputedStyle(document.activeElement).outlineStyle')).toBe('solid');
  });

  it('shades the token view by the mean over sites, and by one site when chosen', async () => {
    const example = rte.tokens?.[0] as NonNullable<AttentionReport['tokens']>[number];
    const view = '[data-view="tokens"] .token-view[data-example="0"]';
    const mean = (t: number, n: number) => example.sites.reduce((sum, site) => sum + (site.weights[t]?.[n] ?? 0), 0) / example.sites.length;
    const before = await cells(page, view);
    expect(before).toHaveLength(3 * example.tokens.length);
    for (const cell of before) expect(cell.value).toBeCloseTo(mean(cell.c, cell.r), 12);
    await page.selectOption(`${view} select`, { label: 'L2' });
    for (const cell of await cells(page, view)) expect(cell.value).toBe(example.sites[2]?.weights[cell.c]?.[cell.r]);
    await page.hover(`${view} .tok[data-r="1"][data-c="2"]`);
    await expect.poll(() => page.locator('#explorer-tip').textContent()).toBe(`sst2 · gripping: ${example.sites[2]?.weights[2]?.[1]}`);
  });

  it('draws the training curves and the attention snapshots with their logged values', async () => {
    const { metrics, attention } = explorerFixture().training.rte ?? { metrics: [], attention: [] };
    const training = await cells(page, '[data-view="training"]');
    const accuracy = training.filter((cell) => cell.label.startsWith('accuracy at step'));
    expect(accuracy.map((cell) => cell.value)).toEqual(metrics.flatMap((point) => (point.eval_accuracy === undefined ? [] : [point.eval_accuracy])));
    expect(training.find((cell) => cell.label === 'step 60 · mnli')?.value).toBe(attention.at(-1)?.overall[0]);
  });

  it('takes a non-blank screenshot of each view', async () => {
    mkdirSync(SCREENSHOTS, { recursive: true });
    await page.selectOption('[data-view="tokens"] .token-view[data-example="0"] select', { label: 'mean over sites' });
    await page.mouse.move(0, 0);
    for (const name of ['targets', 'layers', 'classes', 'ablation', 'examples', 'tokens', 'training']) {
      const png = await page.locator(`[data-view="${name}"]`).first().screenshot({ path: join(SCREENSHOTS, `${name}.png`) });
      expect(await distinctColours(page, png), name).toBeGreaterThan(20);
    }
  });

  it('reads without JavaScript: the heatmaps and tables are in the page itself', async () => {
    const context = await browser.newContext({ javaScriptEnabled: false });
    const staticPage = await context.newPage();
    await staticPage.goto(pathToFileURL(file).href);
    expect(await staticPage.locator('[data-view="layers"] svg rect').count()).toBe((rte.all.sites.length + 1) * 3 + cb.all.sites.length * 2 + 2);
    expect(await staticPage.locator('[data-view="ablation"] table').textContent()).toContain('0.5812');
    expect(await staticPage.locator('[data-view="tokens"] select').count()).toBe(0);
    await context.close();
  });
});
