from probewise.cli import main

raise SystemExit(main())
