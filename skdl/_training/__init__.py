"""skdl's training engine: from a built network and its datasets to a fit net.

Layers, each importing only those before it (no cycles):

* :mod:`.data` - the batch data protocol (a dataset with ``batches()`` and
  ``n_batches()``) and skdl's batch iterator;
* :mod:`.interrupt`, :mod:`.callbacks`, :mod:`.averaging` and
  :mod:`.checkpoint` - the skorch callbacks and net
  mixins of a fit;
* :mod:`.parallel`, :mod:`.devices` - the runtime: CPU threads, device and
  precision;
* :mod:`.snapshot` - the previous model, kept until training really starts;
* :mod:`.net` - ``SkdlNet`` and ``build_net``;
* :mod:`.accelerate` - the accelerator-aware net, built on ``SkdlNet``; the
  caller of ``build_net`` chooses it (``net_choice``), so ``net`` never
  imports it.

The estimators (``skdl._base``, ``skdl._estimator``) sit above this
package; nothing here imports an estimator module.
"""
