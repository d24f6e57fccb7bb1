import { taskModule } from '../src/index';
import { boolqTask } from './boolq/boolq-task';
import { cbTask } from './cb/cb-task';
import { colaTask } from './cola/cola-task';
import { ImdbTask } from './imdb/imdb-task';
import { mnliTask } from './mnli/mnli-task';
import { mrpcTask } from './mrpc/mrpc-task';
import { qnliTask } from './qnli/qnli-task';
import { qqpTask } from './qqp/qqp-task';
import { rteTask } from './rte/rte-task';
import { scitailTask } from './scitail/scitail-task';
import { sickTask } from './sick/sick-task';
import { sst2Task } from './sst2/sst2-task';
import { stsbTask } from './stsb/stsb-task';

/** The built-in task plugins, composed into the command line like any plugin module. */
export default taskModule(rteTask, cbTask, mrpcTask, sst2Task, colaTask, stsbTask, qnliTask, mnliTask, qqpTask, boolqTask, scitailTask, sickTask, new ImdbTask());
