"""What the estimator layer does around the training engine.

:class:`skdl._base.BaseDLEstimator` (with the task mixins of
``skdl/_tasks.py``) is the estimator; this package holds the steps it takes
around :mod:`skdl._training`, each in one module:

* :mod:`.plan` - the flat hyperparameters resolved into one
  :class:`~skdl._training.plan.TrainingPlan` (the seam to the engine);
* :mod:`.continued` - ``warm_start`` and ``partial_fit``;
* :mod:`.divergence` - the warning about a model worse than a constant;
* :mod:`.unwrap` - the skdl estimator inside a Pipeline or search.
"""
