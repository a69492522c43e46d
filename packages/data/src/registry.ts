/**
 * The data formats, tried in order (IDX before image folders: both are folders); the first whose `accepts` says yes loads the data.
 * A new format is one module with a DataLoader and one line here.
 */
import { DataError } from './errors.js';
import { csvLoader } from './loaders/csv.js';
import { idxLoader } from './loaders/idx.js';
import { imageFolderLoader } from './loaders/images.js';
import type { DataLoader, Dataset, LoadOptions } from './types.js';

export const loaders: readonly DataLoader[] = [idxLoader, csvLoader, imageFolderLoader];

/** Loads `spec`: 'mnist', a folder of IDX files, a .csv/.tsv file or a folder of class folders of images. */
export async function loadDataset(spec: string, options: LoadOptions = {}): Promise<Dataset> {
  for (const loader of loaders) {
    if (await loader.accepts(spec)) return loader.load(spec, options);
  }
  throw new DataError(
    "not a data set tuneserve can read: expected 'mnist', a folder of IDX files, a .csv/.tsv file, or a folder of <class>/ image folders",
    { file: spec },
  );
}
