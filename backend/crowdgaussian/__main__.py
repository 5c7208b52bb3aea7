"""`python -m crowdgaussian` = the `crowdgaussian` command."""
import sys

from .cli import main

sys.exit(main())
