"""The estimators' checks of what users pass, with messages that name it.

* :mod:`.labels` - targets: their rows and class labels;
* :mod:`.sample_weights` - ``sample_weight``, the loss weights it makes with
  ``class_weight``, and validation splits that keep weight on both sides;
* :mod:`.describe` - short descriptions of values and errors for messages,
  and brief parameter errors.

Nothing here imports an estimator or the training engine.
"""
