from mailgui.cli import main

raise SystemExit(main())
