import { taskModule } from '../src/index';

/** The built-in task plugins. */
export default taskModule();
