"""Optuna's samplers on the bench:tuner test functions (the peer of bench/tuner/quality.ts).

Usage: python3 optuna_peer.py '<JSON request>' with
  {"problem": "branin" | "hartmann6", "bounds": [[lo, hi], ...], "sampler": "tpe" | "tpe-multivariate" | "random",
   "seeds": [1, 2, ...], "evals": 40, "probe": [[x, ...], ...]}
Prints {"version", "probe": [f(x) for each probe point], "best": [best value of each seed's study],
"seconds": the searches' total time}.
The probe lets the caller check that these functions are the ones it evaluates.
"""
import json
import math
import sys
import time
import warnings

import optuna

H6_ALPHA = [1.0, 1.2, 3.0, 3.2]
H6_A = [
    [10, 3, 17, 3.5, 1.7, 8],
    [0.05, 10, 17, 0.1, 8, 14],
    [3, 3.5, 1.7, 10, 17, 8],
    [17, 8, 0.05, 10, 0.1, 14],
]
H6_P = [
    [1312, 1696, 5569, 124, 8283, 5886],
    [2329, 4135, 8307, 3736, 1004, 9991],
    [2348, 1451, 3522, 2883, 3047, 6650],
    [4047, 8828, 8732, 5743, 1091, 381],
]


def branin(x):
    x1, x2 = x
    b = 5.1 / (4 * math.pi**2)
    c = 5 / math.pi
    t = 1 / (8 * math.pi)
    return (x2 - b * x1 * x1 + c * x1 - 6) ** 2 + 10 * (1 - t) * math.cos(x1) + 10


def hartmann6(x):
    total = 0.0
    for i in range(4):
        inner = sum(H6_A[i][j] * (x[j] - H6_P[i][j] * 1e-4) ** 2 for j in range(6))
        total += H6_ALPHA[i] * math.exp(-inner)
    return -total


PROBLEMS = {"branin": branin, "hartmann6": hartmann6}


def sampler_for(kind, seed):
    if kind == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if kind == "tpe":
        return optuna.samplers.TPESampler(seed=seed)
    if kind == "tpe-multivariate":
        return optuna.samplers.TPESampler(seed=seed, multivariate=True)
    raise SystemExit(f"unknown sampler {kind!r}")


def main():
    request = json.loads(sys.argv[1])
    f = PROBLEMS[request["problem"]]
    bounds = request["bounds"]
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.simplefilter("ignore")  # multivariate TPE is marked experimental in Optuna 3.x

    def objective(trial):
        return f([trial.suggest_float(f"x{i}", lo, hi) for i, (lo, hi) in enumerate(bounds)])

    best = []
    start = time.perf_counter()
    for seed in request["seeds"]:
        study = optuna.create_study(direction="minimize", sampler=sampler_for(request["sampler"], seed))
        study.optimize(objective, n_trials=request["evals"])
        best.append(study.best_value)
    seconds = time.perf_counter() - start
    probe = [f(x) for x in request["probe"]]
    print(json.dumps({"version": optuna.__version__, "probe": probe, "best": best, "seconds": seconds}))


main()
