"""`python -m devstack` (what `make run` calls): start the local stack and stop it on Ctrl-C or SIGTERM."""

import sys

from devstack.launcher import main

sys.exit(main())
