/** The kernels tuneserve replaces or adds on the wasm backend, built over the stock kernels they fall back to. */
import type * as tf from '@tensorflow/tfjs';
import type { BlasAddon } from '../native/accelerator.js';
import type { Kernel, KernelArgs } from './backend-access.js';
import {
  CONV_BIAS_ACT,
  conv2dBackpropFilterKernel,
  conv2dBackpropInputKernel,
  conv2dBiasActKernel,
  conv2dKernel,
} from './conv.js';
import { addKernel, RELU_GRAD, RELU_GRAD_SUM, reluGradKernel, reluGradSumKernel } from './elementwise.js';
import {
  MEAN_ALL_GRAD,
  meanAllGradKernel,
  SOFTMAX_GRAD,
  SPARSE_ACCURACY,
  SPARSE_CROSSENTROPY,
  SPARSE_CROSSENTROPY_GRAD,
  softmaxGradKernel,
  sparseAccuracyKernel,
  sparseCrossentropyGradKernel,
  sparseCrossentropyKernel,
} from './losses.js';
import { batchMatMulKernel, DENSE, denseKernel, fusedMatMulKernel, type MatmulDeps } from './matmul.js';
import { castKernel, gatherKernel, identityKernel, sliceKernel, unsortedSegmentSumKernel } from './memory-kernels.js';
import { maxPoolGradKernel, maxPoolKernel } from './pool.js';
import { sumKernel } from './reduce.js';
import { DROPOUT_MASK, dropoutMaskKernel } from './user-api.js';

export type StockLookup = (kernelName: string) => tf.KernelConfig | undefined;

function stockFunc(stock: StockLookup, name: string): (args: KernelArgs) => tf.TensorInfo | tf.TensorInfo[] {
  const config = stock(name);
  if (!config) throw new Error(`the stock wasm backend has no ${name} kernel`);
  return config.kernelFunc as unknown as (args: KernelArgs) => tf.TensorInfo | tf.TensorInfo[];
}

/** Replacement kernels; `blas` switches matmuls and convolution gradients to the native addon. */
export function replacementKernels(stock: StockLookup, blas?: BlasAddon): { kernelName: string; kernelFunc: Kernel }[] {
  const deps: MatmulDeps = {
    stockMatMul: stockFunc(stock, 'BatchMatMul'),
    stockTranspose: stockFunc(stock, 'Transpose'),
    blas,
  };
  const kernels = [
    { kernelName: 'BatchMatMul', kernelFunc: batchMatMulKernel(deps) },
    { kernelName: '_FusedMatMul', kernelFunc: fusedMatMulKernel(deps, stockFunc(stock, '_FusedMatMul')) },
    { kernelName: 'GatherV2', kernelFunc: gatherKernel(stockFunc(stock, 'GatherV2')) },
    { kernelName: 'Slice', kernelFunc: sliceKernel(stockFunc(stock, 'Slice')) },
    { kernelName: 'Identity', kernelFunc: identityKernel(stockFunc(stock, 'Identity')) },
    { kernelName: 'Cast', kernelFunc: castKernel(stockFunc(stock, 'Cast')) },
    { kernelName: 'UnsortedSegmentSum', kernelFunc: unsortedSegmentSumKernel },
    { kernelName: 'MaxPoolGrad', kernelFunc: maxPoolGradKernel(blas) },
    { kernelName: 'Sum', kernelFunc: sumKernel(stockFunc(stock, 'Sum'), blas) },
    {
      kernelName: 'Conv2DBackpropFilter',
      kernelFunc: conv2dBackpropFilterKernel(deps, blas, stockFunc(stock, 'Conv2D')),
    },
    {
      kernelName: 'Conv2DBackpropInput',
      kernelFunc: conv2dBackpropInputKernel(deps, blas, stockFunc(stock, 'Conv2D')),
    },
    { kernelName: DROPOUT_MASK, kernelFunc: dropoutMaskKernel(blas) },
    { kernelName: CONV_BIAS_ACT, kernelFunc: conv2dBiasActKernel(blas, stockFunc(stock, 'FusedConv2D')) },
    { kernelName: SPARSE_CROSSENTROPY, kernelFunc: sparseCrossentropyKernel },
    { kernelName: SPARSE_CROSSENTROPY_GRAD, kernelFunc: sparseCrossentropyGradKernel },
    { kernelName: SPARSE_ACCURACY, kernelFunc: sparseAccuracyKernel },
    { kernelName: SOFTMAX_GRAD, kernelFunc: softmaxGradKernel },
    { kernelName: MEAN_ALL_GRAD, kernelFunc: meanAllGradKernel },
  ];
  if (blas) {
    kernels.push(
      { kernelName: 'Conv2D', kernelFunc: conv2dKernel(blas, stockFunc(stock, 'Conv2D')) },
      { kernelName: 'MaxPool', kernelFunc: maxPoolKernel(blas, stockFunc(stock, 'MaxPool')) },
      { kernelName: 'Add', kernelFunc: addKernel(blas, stockFunc(stock, 'Add')) },
      { kernelName: RELU_GRAD, kernelFunc: reluGradKernel(blas) },
      { kernelName: DENSE, kernelFunc: denseKernel(blas) },
    );
  }
  // an addon built from an older source lacks it: the convolution's gradient then runs reluGrad and Sum
  if (typeof blas?.reluGradSum === 'function') {
    kernels.push({ kernelName: RELU_GRAD_SUM, kernelFunc: reluGradSumKernel(blas) });
  } else if (!blas) {
    kernels.push({ kernelName: RELU_GRAD_SUM, kernelFunc: reluGradSumKernel() });
  }
  return kernels;
}

/** Every kernel name tuneserve may register, so turning fixes off restores (or removes) all of them. */
export const REPLACED_KERNELS = [
  'BatchMatMul',
  '_FusedMatMul',
  'GatherV2',
  'Slice',
  'Identity',
  'Cast',
  'UnsortedSegmentSum',
  'MaxPoolGrad',
  'Sum',
  'Conv2D',
  'Conv2DBackpropFilter',
  'Conv2DBackpropInput',
  'MaxPool',
  'Add',
  RELU_GRAD,
  RELU_GRAD_SUM,
  DROPOUT_MASK,
  CONV_BIAS_ACT,
  SPARSE_CROSSENTROPY,
  SPARSE_CROSSENTROPY_GRAD,
  SPARSE_ACCURACY,
  SOFTMAX_GRAD,
  DENSE,
  MEAN_ALL_GRAD,
];
