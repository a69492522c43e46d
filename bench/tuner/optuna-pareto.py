"""Optuna's multi-objective samplers on the problems of pareto-problems.ts, for bench:tuner.

Usage: optuna-pareto.py <problem> <sampler nsga2|motpe> <evals> <seed>...
Prints one JSON line per seed: {"seed": s, "values": [[f1, f2], ...]} (every completed trial);
the benchmark computes the hypervolume itself, with the same code as for its own searches.
"""
import json
import math
import sys

import optuna

optuna.logging.set_verbosity(optuna.logging.WARNING)


def zdt1(x):
    g = 1 + 9 * sum(x[1:]) / (len(x) - 1)
    return x[0], g * (1 - math.sqrt(x[0] / g))


def dtlz2(x):
    g = sum((v - 0.5) ** 2 for v in x[1:])
    angle = x[0] * math.pi / 2
    return (1 + g) * math.cos(angle), (1 + g) * math.sin(angle)


PROBLEMS = {"zdt1": (zdt1, 6), "dtlz2": (dtlz2, 6)}


def sampler_for(name, seed):
    if name == "nsga2":
        return optuna.samplers.NSGAIISampler(seed=seed)
    if name == "motpe":
        # TPESampler handles several objectives as MOTPE (Optuna >= 3.0).
        return optuna.samplers.TPESampler(seed=seed)
    raise SystemExit(f"unknown sampler {name}")


def main():
    problem, sampler, evals, *seeds = sys.argv[1:]
    fn, dims = PROBLEMS[problem]
    for seed in seeds:
        study = optuna.create_study(directions=["minimize", "minimize"], sampler=sampler_for(sampler, int(seed)))
        study.optimize(lambda t: fn([t.suggest_float(f"x{i}", 0, 1) for i in range(dims)]), n_trials=int(evals))
        values = [list(t.values) for t in study.trials if t.values is not None]
        print(json.dumps({"seed": int(seed), "values": values}), flush=True)


main()
