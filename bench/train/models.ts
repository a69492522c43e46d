/** The reference CNN of bench:train, shared by the in-process rows and the own-process pure-wasm row. */
import * as tf from '@tensorflow/tfjs';

export function cnn(): tf.LayersModel {
  const m = tf.sequential();
  const init = (seed: number) => tf.initializers.glorotUniform({ seed });
  m.add(
    tf.layers.conv2d({
      inputShape: [28, 28, 1],
      filters: 32,
      kernelSize: 3,
      activation: 'relu',
      kernelInitializer: init(1),
    }),
  );
  m.add(tf.layers.maxPooling2d({ poolSize: 2 }));
  m.add(tf.layers.conv2d({ filters: 64, kernelSize: 3, activation: 'relu', kernelInitializer: init(2) }));
  m.add(tf.layers.maxPooling2d({ poolSize: 2 }));
  m.add(tf.layers.flatten());
  m.add(tf.layers.dropout({ rate: 0.5 }));
  m.add(tf.layers.dense({ units: 10, activation: 'softmax', kernelInitializer: init(3) }));
  return m;
}
