"""`python -m emulator serve [options]`: the local server (see `emulator.server`)."""

import sys

from .http.server import main

if __name__ == "__main__":
    sys.exit(main())
