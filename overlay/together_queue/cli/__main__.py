"""`python -m together_queue.cli`: the `together-queue` command."""

import sys

from together_queue.cli import main

sys.exit(main())
