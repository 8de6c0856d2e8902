"""`python -m jobs.cli`: the same as the `batchlab` command."""

import sys

from jobs.cli.app import main

sys.exit(main())
