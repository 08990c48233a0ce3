"""``python -m tf_expander_pruning.cli`` runs the ``tf-expander`` command line."""

import sys

from tf_expander_pruning.cli import main

sys.exit(main())
