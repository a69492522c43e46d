/**
 * tfjs-backend-wasm's threaded SIMD build under Node: XNNPACK's convolutions and matrix products on a thread pool.
 * The package's own loader refuses threads in Node (its flag returns false there): it hands emscripten a Blob URL
 * for the worker script and for the main script, which Node's worker_threads cannot load. This loader gives
 * emscripten file paths instead (the package's module factory, and wasm-pthread-worker.cjs, which runs the
 * package's worker script), and reports `threads * 2` logical cores to the module, because tfjs caps its pool at
 * half the cores it is told of (two hyperthreads per core assumed) — on a 2-core machine that would be one thread.
 * The heap is a SharedArrayBuffer, which the OpenBLAS addon cannot address: a process uses one build or the other.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';

const WORKER = fileURLToPath(new URL('../../wasm-pthread-worker.cjs', import.meta.url));
const WASM_PRIORITY = 2; // the package's own

interface EmscriptenWorker {
  unref(): void;
}

interface ThreadedModule {
  cwrap(name: string, returns: string | null, args: string[]): (...args: number[]) => number;
  PThread: { runningWorkers: EmscriptenWorker[]; unusedWorkers: EmscriptenWorker[] };
  tfjs?: Record<string, (...args: number[]) => number>;
}

/** The one WebAssembly call used here (this project compiles without the DOM's WebAssembly types). */
interface Instantiated {
  instance: object;
  module: object;
}
const { WebAssembly: wasmApi } = globalThis as unknown as {
  WebAssembly: { instantiate(bytes: Uint8Array, imports: object): Promise<Instantiated> };
};

interface Imports {
  env: Record<string, unknown>;
}

interface FactoryConfig {
  locateFile(file: string): string;
  mainScriptUrlOrBlob: string;
  instantiateWasm(imports: Imports, receive: (instance: object, module: object) => void): object;
  onAbort(what: unknown): void;
}

let threadsInUse = 0;
let failure: string | undefined;

/** Why the threaded build could not start (the single-threaded one runs instead), if it could not. */
export function threadedFailure(): string | undefined {
  return failure;
}

/** XNNPACK threads of the live threaded backend; 0 when the backend is the package's single-threaded build. */
export function wasmThreads(): number {
  return threadsInUse;
}

function load(threads: number): Promise<ThreadedModule> {
  const pkg = dirname(createRequire(import.meta.url).resolve('@tensorflow/tfjs-backend-wasm/package.json'));
  const script = join(pkg, 'wasm-out', 'tfjs-backend-wasm-threaded-simd.js');
  const binary = join(pkg, 'dist', 'tfjs-backend-wasm-threaded-simd.wasm');
  const factory = createRequire(import.meta.url)(script) as (config: FactoryConfig) => Promise<ThreadedModule>;
  return new Promise((resolve, reject) => {
    factory({
      locateFile: (file) => (file.endsWith('.worker.js') ? WORKER : binary),
      mainScriptUrlOrBlob: script,
      instantiateWasm: (imports, receive) => {
        imports.env.emscripten_num_logical_cores = () => threads * 2;
        wasmApi
          .instantiate(readFileSync(binary), imports)
          .then((result) => receive(result.instance, result.module), reject);
        return {};
      },
      onAbort: (what) => reject(new Error(`threaded wasm module aborted: ${String(what)}`)),
    }).then(resolve, reject);
  });
}

/**
 * Makes the next `tf.setBackend('wasm')` start the threaded build with `threads` XNNPACK threads. Only before the
 * wasm backend is first initialised; returns false (and changes nothing) after.
 */
export function useThreadedWasm(threads: number): boolean {
  if (tf.findBackend('wasm')) return false;
  const stock = tf.findBackendFactory('wasm');
  tf.removeBackend('wasm');
  tf.registerBackend(
    'wasm',
    async () => {
      let module: ThreadedModule;
      try {
        module = await load(threads);
      } catch (e) {
        // e.g. a future package layout: the package's own single-threaded build still works
        failure = (e as Error).message;
        return stock();
      }
      // the same bindings the package's loader makes
      module.tfjs = {
        init: module.cwrap('init', null, []),
        initWithThreadsCount: module.cwrap('init_with_threads_count', null, ['number']),
        getThreadsCount: module.cwrap('get_threads_count', 'number', []),
        registerTensor: module.cwrap('register_tensor', null, ['number', 'number', 'number']),
        disposeData: module.cwrap('dispose_data', null, ['number']),
        dispose: module.cwrap('dispose', null, []),
      };
      // imported here, not at the top: importing the package registers its backend, which only initBackend may do
      const { BackendWasm, setThreadsCount } = await import('@tensorflow/tfjs-backend-wasm');
      setThreadsCount(threads);
      const backend = new BackendWasm(module as unknown as ConstructorParameters<typeof BackendWasm>[0]);
      // the pool's threads wait for work forever: they must not keep the process alive
      for (const w of [...module.PThread.runningWorkers, ...module.PThread.unusedWorkers]) w.unref();
      threadsInUse = module.tfjs.getThreadsCount!();
      return backend;
    },
    WASM_PRIORITY,
  );
  return true;
}
