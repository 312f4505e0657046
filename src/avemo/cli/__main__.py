"""``python -m avemo.cli``: the ``avemo`` command."""

import sys

from avemo.cli import main

sys.exit(main())
