"""`python -m together_queue.emulator`: the same command as `together-queue emulator`."""

import sys

from together_queue.emulator.cli import main

if __name__ == "__main__":
    sys.exit(main())
