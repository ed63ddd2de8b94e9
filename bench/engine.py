"""Engine speed: optimiser steps/s and grid evaluation time, against PyTorch and scikit-learn.

    python bench/engine.py [--seconds 0.5] [--repeats 5]

Prints, for a 2-8-8-2 tanh net and a 2-64-64-64-2 relu net at batch 10: steps per second
with sgd and adam (one step = forward, loss, backward, update on the next batch of a fixed
200-point set), and milliseconds to evaluate 100x100 and 200x200 grids (softmax
probabilities). When ``torch`` is importable the same steps run in PyTorch eager (float64
like ours, ``torch.optim.SGD`` and ``torch.optim.Adam(foreach=False)``); when scikit-learn
is importable the grids also go through ``MLPClassifier.predict_proba`` with our weights
copied in. Timings alternate between the engines and keep the best of ``--repeats`` runs,
and the clock is this process's CPU time with
one BLAS/torch thread (``--threads``), so other load on the machine counts for neither. Targets (docs/design.md, "The engine"): small-net sgd and
adam >= 3x PyTorch, 100x100 grid <= 1.0x scikit-learn. Also prints the gradient-check time
for a 10x256 net on 32 points with 10 sampled entries per tensor.
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np

from mlp_playground.nn.gradcheck import gradient_check
from mlp_playground.nn.model import MLP
from mlp_playground.nn.optimizers import make_optimizer

NETS = [("2-8-8-2 tanh", [8, 8], "tanh"), ("2-64-64-64-2 relu", [64, 64, 64], "relu")]
LR = {"sgd": 0.1, "adam": 0.01}
BATCH = 10


def data(n: int = 200):
    rng = np.random.default_rng(0)
    X = rng.uniform(-3, 3, size=(n, 2))
    y = (X[:, 0] * X[:, 1] > 0).astype(np.int64)
    return X, y


# CPU time of this process, not wall time: every engine runs single-threaded (see main), so
# this is the work done, and other processes on a busy machine do not count against it.
clock = time.process_time


def rate(step, seconds: float) -> float:
    """Steps per CPU second of ``step`` over about ``seconds`` (after a warm-up)."""
    for _ in range(50):
        step()
    n, t0 = 0, clock()
    deadline = t0 + seconds
    while True:
        for _ in range(100):
            step()
        n += 100
        t = clock()
        if t >= deadline:
            return n / (t - t0)


def numpy_stepper(hidden, activation, optimizer):
    X, y = data()
    batches = [(X[i : i + BATCH], y[i : i + BATCH]) for i in range(0, len(y), BATCH)]
    model = MLP(2, hidden, 2, activation=activation, seed=0)
    opt = make_optimizer(optimizer, learning_rate=LR[optimizer])
    params, grads, loss_and_grads, update = (
        model.params,
        model.grads,
        model.loss_and_grads,
        opt.step,
    )
    state = {"i": 0}

    def step():
        i = state["i"]
        xb, yb = batches[i]
        state["i"] = (i + 1) % len(batches)
        loss_and_grads(xb, yb)
        update(params, grads)

    return step


def torch_stepper(torch, hidden, activation, optimizer):
    X, y = data()
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y)
    batches = [(Xt[i : i + BATCH], yt[i : i + BATCH]) for i in range(0, len(y), BATCH)]
    layers, n_in = [], 2
    act = {"tanh": torch.nn.Tanh, "relu": torch.nn.ReLU}[activation]
    for units in hidden:
        layers += [torch.nn.Linear(n_in, units), act()]
        n_in = units
    layers.append(torch.nn.Linear(n_in, 2))
    net = torch.nn.Sequential(*layers).double()
    if optimizer == "sgd":
        opt = torch.optim.SGD(net.parameters(), lr=LR["sgd"])
    else:
        opt = torch.optim.Adam(net.parameters(), lr=LR["adam"], foreach=False)
    cross_entropy = torch.nn.functional.cross_entropy
    state = {"i": 0}

    def step():
        i = state["i"]
        xb, yb = batches[i]
        state["i"] = (i + 1) % len(batches)
        opt.zero_grad()
        cross_entropy(net(xb), yb).backward()
        opt.step()

    return step


def grid(resolution: int) -> np.ndarray:
    g = np.linspace(-6, 6, resolution)
    x1, x2 = np.meshgrid(g, g[::-1])
    return np.c_[x1.ravel(), x2.ravel()]


def best_ms(fn, repeats: int, inner: int) -> float:
    best = np.inf
    for _ in range(repeats):
        t0 = clock()
        for _ in range(inner):
            fn()
        best = min(best, (clock() - t0) / inner)
    return best * 1e3


def sklearn_copy(model: MLP):
    """An ``MLPClassifier`` with ``model``'s weights (two classes: one logistic output on
    the score difference, which is what softmax over two scores is)."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    clf = MLPClassifier(
        hidden_layer_sizes=tuple(model.hidden_layers),
        activation=model.activations[0],
        max_iter=1,
        random_state=0,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(np.array([[0.0, 0.0], [1.0, 1.0]]), np.array([0, 1]))
    n = len(model.layers)
    for i in range(n - 1):
        clf.coefs_[i] = model.params[f"dense{i}.W"].copy()
        clf.intercepts_[i] = model.params[f"dense{i}.b"].copy()
    W, b = model.params[f"dense{n - 1}.W"], model.params[f"dense{n - 1}.b"]
    clf.coefs_[-1] = (W[:, 1] - W[:, 0])[:, None].copy()
    clf.intercepts_[-1] = np.array([b[1] - b[0]])
    return clf


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=0.5, help="per timing run")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1, help="BLAS and torch threads")
    args = parser.parse_args()
    try:
        from threadpoolctl import threadpool_limits  # ships with scikit-learn

        threadpool_limits(args.threads)
    except ImportError:
        print("threadpoolctl missing: set OPENBLAS_NUM_THREADS yourself")
    try:
        import torch

        torch.set_num_threads(args.threads)
        torch_info = f"torch {torch.__version__} ({torch.get_num_threads()} threads)"
    except ImportError:
        torch, torch_info = None, "torch not installed"
    try:
        import sklearn

        sk_info = f"scikit-learn {sklearn.__version__}"
    except ImportError:
        sklearn, sk_info = None, "scikit-learn not installed"
    print(f"numpy {np.__version__}; {torch_info}; {sk_info}")
    print(
        f"best of {args.repeats} runs of {args.seconds} CPU-s, {args.threads} thread(s), "
        f"batch {BATCH}, training in float64\n"
    )

    print(f"{'training steps/s':34s} {'numpy':>10s} {'torch':>10s} {'ratio':>7s}")
    for label, hidden, activation in NETS:
        for optimizer in ("sgd", "adam"):
            ours = numpy_stepper(hidden, activation, optimizer)
            theirs = torch_stepper(torch, hidden, activation, optimizer) if torch else None
            best_ours = best_theirs = 0.0
            for _ in range(args.repeats):
                best_ours = max(best_ours, rate(ours, args.seconds))
                if theirs:
                    best_theirs = max(best_theirs, rate(theirs, args.seconds))
            row = f"{label + ' ' + optimizer:34s} {best_ours:10.0f}"
            if theirs:
                row += f" {best_theirs:10.0f} {best_ours / best_theirs:6.2f}x"
            print(row)

    print(
        f"\n{'grid predict_proba, ms':34s} {'f64':>8s} {'f32':>8s} {'sklearn':>8s}"
        f" {'f64/sk':>7s} {'f32/sk':>7s}"
    )
    for label, hidden, activation in NETS:
        model = MLP(2, hidden, 2, activation=activation, seed=0)
        clf = sklearn_copy(model) if sklearn else None
        for resolution in (100, 200):
            P = grid(resolution)
            inner = 20 if resolution == 100 else 5
            if clf is not None:
                np.testing.assert_allclose(clf.predict_proba(P), model.predict_proba(P), atol=1e-9)
            f64 = best_ms(lambda P=P, m=model: m.predict_proba(P), args.repeats, inner)
            f32 = best_ms(
                lambda P=P, m=model: m.predict_proba(P, dtype=np.float32), args.repeats, inner
            )
            row = f"{label + f' {resolution}x{resolution}':34s} {f64:8.2f} {f32:8.2f}"
            if clf is not None:
                sk = best_ms(lambda P=P, c=clf: c.predict_proba(P), args.repeats, inner)
                row += f" {sk:8.2f} {f64 / sk:6.2f}x {f32 / sk:6.2f}x"
            print(row)

    model = MLP(2, [256] * 10, 2, activation="tanh", seed=0)
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(32, 2)), rng.integers(0, 2, 32)
    t0 = clock()
    result = gradient_check(model, X, y, max_per_parameter=10, rng=rng)
    seconds = clock() - t0
    print(
        f"\ngradient check 2-10x256-2 on 32 points, 10 entries/tensor: {seconds * 1e3:.0f} ms "
        f"({len(result.rows)} entries, worst relative error {result.worst_relative_error:.1e})"
    )


if __name__ == "__main__":
    main()
