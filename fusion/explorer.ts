/**
 * The explorer's browser entry: what a page needs to show `inspect`'s reports (rendering, styles, script, log
 * parsing, data types) and nothing that reaches a Node-only module, so web/ bundles it without the core. Node code
 * uses fusion/index.ts, which exports the same.
 *
 * @example
 * import { explorerBody, EXPLORER_CSS, EXPLORER_SCRIPT } from '../fusion/explorer';
 * root.innerHTML = explorerBody({ reports: [report], training: {} });
 */
export { attentionHtml, explorerBody, EXPLORER_CSS, EXPLORER_SCRIPT, heatmapSvg, lineChartSvg } from './attention-html';
export type { AblationResult, AttentionGroup, AttentionReport, SiteMeans, TokenAttention } from './attention-report';
export * from './explorer-data';
