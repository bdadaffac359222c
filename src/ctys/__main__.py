from ctys.cli.main import main

raise SystemExit(main())
