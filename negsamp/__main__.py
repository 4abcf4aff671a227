from negsamp.cli import main

raise SystemExit(main())
