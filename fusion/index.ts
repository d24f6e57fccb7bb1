import { featureModule } from '../src/index';

/** The composition stage (AdapterFusion) as a feature module. */
export default featureModule([]);
