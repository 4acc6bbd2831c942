from timestep.demo import main

raise SystemExit(main())
