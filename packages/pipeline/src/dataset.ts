/** The data set contract the pipeline runs on (owned by @tuneserve/data). */
export type { Dataset, Split, SplitRecord, Task } from '@tuneserve/data';
