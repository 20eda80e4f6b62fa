"""One process of the two-process Accelerate test (tests/test_accelerate.py).

Started by ``torch.distributed.run`` with the gloo backend on the loopback
interface; writes what this process trained to ``$OUT/rank<k>.json``.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import sys

import torch
from accelerate import Accelerator
from sklearn.datasets import load_breast_cancer

from skdl import TabularClassifier, use_accelerator

torch.set_num_threads(1)
X, y = load_breast_cancer(return_X_y=True)
accelerator = Accelerator(cpu=True)
with use_accelerator(accelerator):
    # random_state=None: the processes must still split and shuffle alike.
    clf = TabularClassifier(
        hidden_layer_sizes=(32,),
        normalization="batch",
        max_epochs=30,
        patience=3,
        tol=1e-3,
        lr_schedule="onecycle",
    ).fit(X, y)
weights = torch.cat([p.detach().flatten() for p in clf.net_.module_.parameters()])
rows = [
    sum(b["train_batch_size"] for b in epoch if "train_batch_size" in b)
    for epoch in clf.net_.history[:, "batches"]
]
result = {
    "rank": accelerator.process_index,
    "n_processes": accelerator.num_processes,
    "distributed_type": str(accelerator.distributed_type),
    "n_train": X.shape[0] - len(clf.net_.train_split.keywords["valid_ds"]),
    "n_epochs": clf.n_epochs_,
    "rows_per_epoch": rows,
    "train_loss": clf.history_["train_loss"].tolist(),
    "weights_sha1": hashlib.sha1(weights.numpy().tobytes()).hexdigest(),
    "score": clf.score(X, y),
    "unpickled_score": pickle.loads(pickle.dumps(clf)).score(X, y),
}
out = os.environ["OUT"]
with open(os.path.join(out, f"rank{result['rank']}.json"), "w") as fh:
    json.dump(result, fh)
sys.exit(0)
