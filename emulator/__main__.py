"""`python -m emulator serve [options]`: the local server; `python -m emulator clock advance 601`
(and the other control commands) drive a running one (see `emulator.http.server`)."""

import sys

from .http.server import main

if __name__ == "__main__":
    sys.exit(main())
