from fleetmon.simulate import main

raise SystemExit(main())
