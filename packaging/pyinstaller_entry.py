"""Entry point of the PyInstaller build: the same ``main`` as the ``mailgui`` script
(which also becomes ``mailgui sendmail`` when started under the name ``sendmail`` or
``mailgui-sendmail``)."""

import sys

from mailgui.cli import main

if __name__ == "__main__":
    sys.exit(main())
