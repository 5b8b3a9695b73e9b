from nnzoo.cli import main

raise SystemExit(main())
