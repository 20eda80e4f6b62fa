"""The safe model format: ``save``/``skdl.load`` without unpickling.

* :mod:`.plain` - plain-data encoding with class allow-lists (public class
  names only, so moving a private module keeps saved files loadable);
* :mod:`.model_file` - the zip layout, checksums and ``skdl.load``;
* :mod:`.mixin` - the estimators' ``save``/``save_weights``/``load_weights``.
"""
