/**
 * report.html's study views: importance, parallel coordinates, every trial's curves with pruned ones dashed, the
 * cross-validation spread, and for a multi-objective study the Pareto front (chart and ★ rows).
 */
import { buildReport, type ReportTrial, regressionMetrics } from '@tuneserve/pipeline';
import { describe, expect, it } from 'vitest';

const curve = (...values: number[]) => values.map((value, step) => ({ step, value }));
const trial = (trialId: string, status: string, score: number, hps: ReportTrial['hyperparameters']): ReportTrial => ({
  trialId,
  status,
  score,
  hyperparameters: hps,
  durationMs: 1000,
  metrics: { val_loss: curve(1, score + 0.2, score), loss: curve(1.1, 0.7, 0.5) },
  scoreStd: 0.01,
});
const test = regressionMetrics(Float32Array.from([0.1, -0.2]), Float32Array.from([0, -0.25]), {
  task: 'regression',
  target: 'price',
  mean: 100,
  std: 10,
});

describe('report.html study views', () => {
  it('single objective: importance, parallel coordinates, every curve (pruned dashed), score ± spread', async () => {
    const trials = [
      trial('0', 'COMPLETED', 0.3, { lr: 0.001, optimizer: 'adam', units: 32 }),
      trial('1', 'COMPLETED', 0.5, { lr: 0.1, optimizer: 'sgd', units: 64 }),
      {
        ...trial('2', 'PRUNED', 0.9, { lr: 0.01, optimizer: 'sgd', units: 16 }),
        metrics: { val_loss: curve(1.2, 0.9) },
      },
    ];
    const report = await buildReport({
      title: 't',
      objective: { name: 'val_loss', direction: 'min' },
      trials,
      bestTrialId: '0',
      importance: { optimizer: 0.6, lr: 0.3, units: 0.1 },
      retrainEpochs: 3,
      hyperparameters: {},
      test,
    });
    expect(Object.keys(report.files)).toEqual(
      expect.arrayContaining(['importance.svg', 'parallel-coordinates.svg', 'trial-curves.svg']),
    );
    expect(report.files['pareto-front.svg']).toBeUndefined();
    const importance = report.files['importance.svg']!;
    for (const name of ['optimizer', 'lr', 'units']) expect(importance).toContain(`>${name}<`);
    const parallel = report.files['parallel-coordinates.svg']!;
    // Axis names, categories and a log axis's range as labels.
    for (const text of ['lr', 'optimizer', 'units', 'val_loss', 'adam', 'sgd', '0.001', '0.1']) {
      expect(parallel).toContain(`>${text}<`);
    }
    const curves = report.files['trial-curves.svg']!;
    expect(curves).toContain('val_loss per epoch of every trial');
    expect(curves).toMatch(/stroke-dasharray="5,4"/); // the pruned trial
    expect(report.files['report.html']).toContain('<td>0.3000 ± 0.0100</td>');
  });

  it('multi-objective: the Pareto front chart, one column per objective, ★ on front rows, importance per objective', async () => {
    const mo = (id: string, acc: number, latency: number): ReportTrial => ({
      ...trial(id, 'COMPLETED', acc, { units: 16 * (Number(id) + 1) }),
      values: [acc, latency],
    });
    const report = await buildReport({
      title: 'mo',
      objective: { name: 'val_accuracy', direction: 'max' },
      objectives: [
        { name: 'val_accuracy', direction: 'max' },
        { name: 'latency_ms', direction: 'min' },
      ],
      trials: [mo('0', 0.9, 2), mo('1', 0.95, 3), mo('2', 0.85, 2.5)],
      importance: { lr: 0.8, units: 0.2 },
      importanceByObjective: { val_accuracy: { lr: 0.8, units: 0.2 }, latency_ms: { units: 0.9, lr: 0.1 } },
      retrainEpochs: 3,
      hyperparameters: {},
      test,
    });
    expect(report.files['pareto-front.svg']).toContain('2 of 3 trials on the front');
    const html = report.files['report.html']!;
    expect(html).toContain('<th>val_accuracy (max)</th><th>latency_ms (min)</th>');
    expect(html.match(/★<\/td>/g)).toHaveLength(2);
    expect(html).toContain('<td>0 ★</td>');
    expect(html).toContain('<td>1 ★</td>');
    expect(html).not.toContain('<td>2 ★</td>'); // dominated by 0: less accurate and slower
    expect(report.files['parallel-coordinates.svg']).toContain('>latency_ms<');
    // One set of importance bars per objective, titled by it.
    const importance = report.files['importance.svg']!;
    expect(importance).toContain('>val_accuracy (max)<');
    expect(importance).toContain('>latency_ms (min)<');
    expect(importance.match(/aria-label="importance: [^"]*"/g)).toEqual([
      'aria-label="importance: 80%; hyperparameter: lr; share: 80.0%"',
      'aria-label="importance: 20%; hyperparameter: units; share: 20.0%"',
      'aria-label="importance: 90%; hyperparameter: units; share: 90.0%"',
      'aria-label="importance: 10%; hyperparameter: lr; share: 10.0%"',
    ]);
  });
});
