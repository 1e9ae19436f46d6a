from careloop.cli import main

raise SystemExit(main())
