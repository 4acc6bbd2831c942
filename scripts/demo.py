import sys

from timestep.demo import main

sys.exit(main())
