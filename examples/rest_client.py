"""Train over REST, predict a few points, save the model document.

    python examples/rest_client.py --url http://127.0.0.1:8000 --out model.json

The saved file is the playground's model document: the page can import it, and
``POST /predict`` accepts it back as ``{"model": <document>, "points": [...]}``. It uses
``mlp_playground.client.Client``, so it runs right after ``pip install mlp-playground``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from mlp_playground.client import Client, PlaygroundError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://127.0.0.1:8000", help="server address")
    parser.add_argument("--dataset", default="spiral", help="a generated dataset name")
    parser.add_argument("--classes", type=int, default=3)
    parser.add_argument("--out", default="model.json", help="where to save the model document")
    args = parser.parse_args(argv)

    client = Client(args.url, timeout=60)
    body = {
        "dataset": {"name": args.dataset, "n_points": 300, "classes": args.classes},
        "network": {"hidden_layers": [16, 16], "activation": "tanh"},
        "optimizer": {"name": "adam", "learning_rate": 0.01},
        "epochs": 60,
        "seed": 0,
    }
    try:
        result = client.train(body)
    except PlaygroundError as exc:
        print(f"/train failed: {exc}", file=sys.stderr)
        return 1
    m = result["metrics"]
    print(
        f"trained {m['steps']} steps in {m['seconds']:.2f} s: initial loss "
        f"{m['initial_loss']:.3f} (ln K = {m['expected_initial_loss']:.3f}), "
        f"validation accuracy {m['validation_accuracy']:.3f}"
    )

    points = [[0.0, 0.0], [3.0, 3.0], [-3.0, 2.0], [2.0, -4.0]]
    prediction = client.predict(result["model"], points)
    for p, label, proba in zip(
        points, prediction["labels"], prediction["probabilities"], strict=True
    ):
        print(f"point {p}: class {label} (p = {proba[label]:.3f})")

    Path(args.out).write_text(json.dumps(result["model"]))
    print(f"model document saved to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
