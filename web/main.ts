// The web app: opens a run directory's report files in the explorer. Static: everything happens in this page.
import { EXPLORER_CSS, EXPLORER_SCRIPT, explorerBody, explorerDataFromFiles, type ExplorerData } from '../fusion/explorer';

declare global {
  interface Window {
    /** Defined by EXPLORER_SCRIPT. */
    enhanceExplorer(root: ParentNode, data: ExplorerData): void;
  }
}

const status = document.getElementById('status') as HTMLElement;
const drop = document.getElementById('open') as HTMLElement;

function say(text: string, error = false): void {
  status.textContent = text;
  status.classList.toggle('error', error);
}

/** Shows the files in a fresh explorer (listeners of an old one go with it). */
async function open(files: readonly File[]): Promise<void> {
  try {
    const { data, ignored } = await explorerDataFromFiles(files);
    if (data.reports.length === 0) throw new Error(`no attention.json among ${files.length} files; run "adapterfusion inspect" and open its reports`);
    const explorer = document.createElement('div');
    explorer.id = 'explorer';
    explorer.innerHTML = explorerBody(data);
    document.getElementById('explorer')?.replaceWith(explorer);
    window.enhanceExplorer(explorer, data);
    const logs = Object.keys(data.training).length;
    say(`Showing ${data.reports.map((report) => report.target).join(', ')}${logs ? ` with training logs of ${Object.keys(data.training).join(', ')}` : ''}${ignored.length ? `; ignored ${ignored.length} other files` : ''}.`);
  } catch (error) {
    say((error as Error).message, true);
  }
}

const style = document.createElement('style');
style.textContent = EXPLORER_CSS;
document.head.append(style);
const script = document.createElement('script');
script.textContent = EXPLORER_SCRIPT;
document.head.append(script);

for (const id of ['files', 'directory']) {
  const input = document.getElementById(id) as HTMLInputElement;
  input.addEventListener('change', () => void open([...(input.files ?? [])]));
}
drop.addEventListener('dragover', (event) => {
  event.preventDefault();
  drop.classList.add('dragging');
});
drop.addEventListener('dragleave', () => drop.classList.remove('dragging'));
drop.addEventListener('drop', (event) => {
  event.preventDefault();
  drop.classList.remove('dragging');
  void open([...(event.dataTransfer?.files ?? [])]);
});
