// A worker thread of tfjs-backend-wasm's threaded SIMD build under Node (XNNPACK's thread pool). The package ships
// its worker script as a string meant for a browser Blob URL, which Node's worker_threads cannot load; this file is
// the worker Node starts instead, and runs that script with the `require` and `__filename` it expects.
'use strict';
const { dirname, join } = require('node:path');
const vm = require('node:vm');

const pkg = dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json'));
const { wasmWorkerContents } = require(join(pkg, 'wasm-out/tfjs-backend-wasm-threaded-simd.worker.js'));
// the package escapes the script's literal newlines the same way before it builds its Blob
const source = wasmWorkerContents.replace(/\n/g, '\\n');
const run = vm.runInThisContext(`(function (require, __filename) {${source}\n})`, {
  filename: 'tfjs-backend-wasm-threaded-simd.worker.js',
});
run(require, __filename);
