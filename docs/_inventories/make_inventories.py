"""Write the small intersphinx inventories in this folder (run it by hand).

Why: intersphinx normally downloads each project's ``objects.inv`` when the
docs are built. skdl's docs are built offline (CI has no internet, only
package registries), and a failed download is a warning that ``-W`` turns
into a failed build. So ``docs/conf.py`` points intersphinx at the real
documentation sites (the links in the built pages go there) but reads the
inventories from the files this script writes.

Each inventory lists only the names skdl's docs and docstrings refer to,
mapped to the page where the project documents them. To link a new name,
add it to ``ENTRIES`` below, run ``python docs/_inventories/make_inventories.py``
and commit the changed ``.inv`` files. A name missing here is not an error:
it renders as plain text, as it would without intersphinx.

The files use Sphinx's inventory format version 2 (four header lines, then
zlib-compressed lines ``name domain:role priority uri dispname``).
"""

from __future__ import annotations

import zlib
from pathlib import Path

HERE = Path(__file__).resolve().parent

# project key -> (project name, uri template, {role: [names]}). "{}" in a uri
# template stands for the name; a name given as "name=uri" uses its own uri,
# and "name=uri|Title" also a display title (for labels). Roles are in the
# Python domain unless they name another ("std:term").
# Uris are relative to the base URL that docs/conf.py's intersphinx_mapping
# gives the project.
ENTRIES: dict[str, tuple[str, str, dict[str, list[str]]]] = {
    "sklearn": (
        "scikit-learn",
        "modules/generated/{}.html#{}",
        {
            "class": [
                "sklearn.base.BaseEstimator",
                "sklearn.pipeline.Pipeline",
                "sklearn.compose.ColumnTransformer",
                "sklearn.model_selection.GridSearchCV",
                "sklearn.model_selection.RandomizedSearchCV",
                "sklearn.model_selection.HalvingRandomSearchCV",
                "sklearn.model_selection.ValidationCurveDisplay",
                "sklearn.model_selection.LearningCurveDisplay",
                "sklearn.frozen.FrozenEstimator",
                "sklearn.preprocessing.StandardScaler",
                "sklearn.preprocessing.FunctionTransformer",
            ],
            "function": [
                "sklearn.base.clone",
                "sklearn.pipeline.make_pipeline",
                "sklearn.model_selection.cross_val_score",
                "sklearn.model_selection.cross_validate",
                "sklearn.model_selection.train_test_split",
                "sklearn.utils.multiclass.type_of_target",
                "sklearn.datasets.load_breast_cancer",
                "sklearn.datasets.load_digits",
            ],
        },
    ),
    "torch": (
        "PyTorch",
        "generated/{}.html#{}",
        {
            "class": [
                "torch.nn.Module",
                # where autodoc's "Bases:" line finds it
                "torch.nn.modules.module.Module=generated/torch.nn.Module.html"
                "#torch.nn.Module",
                "torch.optim.Adam",
                "torch.optim.AdamW",
                "torch.optim.SGD",
                "torch.Tensor=tensors.html#{}",
                "torch.optim.Optimizer=optim.html#{}",
                "torch.optim.swa_utils.AveragedModel=optim.html#{}",
                "torch.autocast=amp.html#{}",
                "torch.amp.GradScaler=amp.html#{}",
                "torch.device=tensor_attributes.html#{}",
                "torch.utils.data.Dataset=data.html#{}",
                "torch.utils.data.DataLoader=data.html#{}",
            ],
            "function": ["torch.compile"],
        },
    ),
    "torchvision": (
        "torchvision",
        "models/generated/{}.html#{}",
        {
            "function": ["torchvision.models.resnet18"],
            "module": [
                "torchvision.models=models.html#module-{}",
                "torchvision.transforms.v2=transforms.html#module-{}",
            ],
        },
    ),
    "skorch": (
        "skorch",
        "callbacks.html#{}",
        {
            "class": [
                "skorch.NeuralNet=net.html#skorch.net.NeuralNet",
                "skorch.net.NeuralNet=net.html#{}",
                "skorch.callbacks.Callback",
                "skorch.callbacks.EarlyStopping",
                "skorch.callbacks.LRScheduler",
                "skorch.hf.AccelerateMixin=hf.html#{}",
            ],
        },
    ),
    "pandas": (
        "pandas",
        "reference/api/{}.html#{}",
        {
            "class": ["pandas.DataFrame", "pandas.Series", "pandas.CategoricalDtype"],
            "function": ["pandas.read_csv"],
        },
    ),
    "numpy": (
        "NumPy",
        "reference/generated/{}.html#{}",
        {
            "class": [
                "numpy.ndarray",
                "numpy.random.Generator=reference/random/generator.html#{}",
                "numpy.random.RandomState=reference/random/legacy.html#{}",
            ],
            "module": ["numpy=index.html#module-{}"],
            # numpydoc links "array-like" and "scalar" in parameter types here.
            "std:term": ["array_like=glossary.html#term-array_like"],
            "std:label": ["arrays.scalars=reference/arrays.scalars.html|Scalars"],
        },
    ),
    "matplotlib": (
        "Matplotlib",
        "api/_as_gen/{}.html#{}",
        {
            "class": [
                "matplotlib.axes.Axes",
                "matplotlib.figure.Figure=api/figure_api.html#{}",
            ]
        },
    ),
    "python": (
        "Python",
        "library/exceptions.html#{}",
        {
            "exception": [
                "ValueError",
                "TypeError",
                "OSError",
                "FloatingPointError",
                "KeyboardInterrupt",
                "UserWarning",
            ],
            "class": [
                "pathlib.Path=library/pathlib.html#{}",
                "os.PathLike=library/os.html#{}",
                "list=library/stdtypes.html#{}",
                "tuple=library/stdtypes.html#{}",
                "str=library/stdtypes.html#{}",
                "dict=library/stdtypes.html#{}",
                "float=library/functions.html#{}",
                "int=library/functions.html#{}",
            ],
            # numpydoc links the basic types in parameter lists to these.
            "data": [
                f"{c}=library/constants.html#{{}}" for c in ("None", "True", "False")
            ],
            "function": [
                "callable=library/functions.html#{}",
                "contextlib.contextmanager=library/contextlib.html#{}",
            ],
            "std:term": [
                "iterable=glossary.html#term-{}",
                "sequence=glossary.html#term-{}",
                "generator=glossary.html#term-{}",
            ],
            "std:label": [
                "bltin-boolean-values=library/stdtypes.html#{}|Boolean Values",
            ],
        },
    ),
}


def inventory_bytes(project: str, template: str, roles: dict[str, list[str]]) -> bytes:
    """One ``objects.inv`` in Sphinx's version-2 format."""
    header = (
        "# Sphinx inventory version 2\n"
        f"# Project: {project}\n"
        "# Version: stable\n"
        "# The remainder of this file is compressed using zlib.\n"
    )
    lines = []
    for role, entries in roles.items():
        role = role if ":" in role else f"py:{role}"
        for entry in entries:
            name, _, uri = entry.partition("=")
            uri, _, display = uri.partition("|")
            uri = (uri or template).replace("{}", name)
            lines.append(f"{name} {role} 1 {uri} {display or '-'}\n")
    return header.encode() + zlib.compress("".join(lines).encode())


def main() -> None:
    for key, (project, template, roles) in ENTRIES.items():
        path = HERE / f"{key}.inv"
        path.write_bytes(inventory_bytes(project, template, roles))
        print(f"wrote {path.name}: {sum(map(len, roles.values()))} names")


if __name__ == "__main__":
    main()
