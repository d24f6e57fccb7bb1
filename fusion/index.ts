import { AttentionInspector, CompositionStage, featureModule, FusionLoader } from '../src/index';
import { AdapterFusionLoader } from './adapter-fusion-loader';
import { FusionAttentionInspector } from './fusion-attention-inspector';
import { FusionCompositionStage } from './fusion-composition-stage';

export * from './adapter-fusion';
export * from './adapter-fusion-loader';
export * from './attention-html';
export * from './attention-recorder';
export * from './attention-report';
export * from './fusion-attention-inspector';
export * from './fusion-composition-stage';
export * from './fusion-config';
export * from './fusion-layer';
export * from './fusion-model';
export * from './fusion-options';
export * from './stacked-adapters';

/**
 * The composition stage as a feature module: binds the services the command line resolves (`fuse`, `inspect`,
 * `forward --fusion`). The CLI loads it at run time like a plugin module, so src/ never imports fusion/.
 */
export default featureModule([
  [CompositionStage, FusionCompositionStage],
  [AttentionInspector, FusionAttentionInspector],
  [FusionLoader, AdapterFusionLoader],
]);
