from pirun.cli import main

raise SystemExit(main())
