// Debian's chromium driven by playwright-core (which never downloads a browser): the browser tests' one launcher.
import { existsSync } from 'node:fs';
import { chromium, type Browser, type Page } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';
export const HAS_CHROMIUM = existsSync(CHROMIUM);
if (!HAS_CHROMIUM) console.warn(`browser tests skipped: ${CHROMIUM} is absent (apt-get install -y chromium)`);

/**
 * Headless chromium with nothing that reaches the network on its own; launch() gives each browser a fresh temporary
 * profile (its own --user-data-dir, which it refuses from the arguments).
 */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

/** A page that records console errors, uncaught exceptions and every request that is not a local file or data URL (aborted). */
export async function watchedPage(browser: Browser): Promise<{ page: Page; errors: string[]; requests: string[] }> {
  const page = await browser.newPage({ viewport: { width: 1100, height: 900 } });
  const errors: string[] = [];
  const requests: string[] = [];
  page.on('console', (message) => {
    if (message.type() === 'error') errors.push(message.text());
  });
  page.on('pageerror', (error) => errors.push(error.message));
  await page.route('**/*', async (route) => {
    const url = route.request().url();
    if (/^(file|data|blob):/.test(url) || url.startsWith('http://127.0.0.1:')) return route.continue();
    requests.push(url);
    return route.abort();
  });
  return { page, errors, requests };
}

/** How many distinct colours a PNG shows, counted in the browser itself (a blank capture has one or two). */
export async function distinctColours(page: Page, png: Buffer): Promise<number> {
  // A string, so this file needs no DOM typings: decode the PNG into a canvas and count its distinct pixels.
  const count = `(async () => {
    const image = new Image();
    image.src = 'data:image/png;base64,${png.toString('base64')}';
    await image.decode();
    const canvas = document.createElement('canvas');
    canvas.width = image.width;
    canvas.height = image.height;
    const context = canvas.getContext('2d');
    context.drawImage(image, 0, 0);
    return new Set(new Uint32Array(context.getImageData(0, 0, image.width, image.height).data.buffer)).size;
  })()`;
  return page.evaluate<number>(count);
}
