"""The Keras 3 adapter: pruning recurrent layers of Keras 3 models on any backend.

TF-MOT cannot wrap Keras 3 layers, so this package builds the masking from Keras 3 itself
(``keras.Variable``, ``keras.constraints.Constraint``, a wrapper layer, a callback), with no
backend-specific code except where JAX forces it (:mod:`.wrapper` says where):

* :mod:`.schedule`: a schedule evaluated in Python at an integer step, and the per-matrix
  ``frozen`` / ``target`` state it reads (the Keras 3 counterpart of ``Freezable``);
* :mod:`.wrapper`: :class:`~.wrapper.PruneRecurrent` (a ``keras.layers.Wrapper`` owning the
  masks as non-trainable variables; a kernel constraint keeps pruned weights exactly zero after
  every optimizer step) and :class:`~.wrapper.PrunedMatrix3`, the adapter record;
* :mod:`.step`: the callback that counts optimizer steps and updates the masks on schedule;
* :mod:`.model_ops`: ``prune_rnn`` / ``strip_pruning`` / ``pruned_weights`` for Keras 3 models;
* :mod:`.adapter`: the model half of :mod:`tf_expander_pruning.pruning.adapter`.

The public names (``prune_rnn``, ``strip_pruning``, ``pruned_weights``, ``UpdatePruningStep``,
``RamanujanConstraint``) dispatch here when given a Keras 3 model.
"""
