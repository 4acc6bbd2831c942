import sys

from timestep.cli import main

sys.exit(main())
