"""Start the desktop app: ``mailgui`` and ``mailgui --demo``."""

from __future__ import annotations

import gc
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from mailgui.core import log
from mailgui.core.paths import APP, Profile
from mailgui.ui.context import AppContext  # Qt-free: imported before PySide6, see run()
from mailgui.ui.single_instance import hand_over, server_name, window_lock  # Qt-free too

if TYPE_CHECKING:  # the demo server (aiosmtpd, asyncio) is loaded only for --demo
    from mailgui.demo_server import DemoServer

DEMO_ACCOUNT = "Demo"


def demo_profile() -> Profile:
    """A profile of its own, so the demo never touches the user's real outbox."""
    home = os.environ.get("MAILGUI_HOME")
    if home:
        root = Path(home) / "demo"
    else:
        import platformdirs

        root = Path(platformdirs.user_data_dir(APP)) / "demo"
    return Profile(root / "config", root / "data", root / "state")


def prepare_demo(profile: Profile, server: DemoServer) -> None:
    """(Re)point the Demo account at this run's embedded server and make it the default."""
    from mailgui.core.accounts import Account, AccountStore

    store = AccountStore(profile.accounts_file)
    store.save(
        Account(
            name=DEMO_ACCOUNT,
            email="you@demo.mailgui",
            display_name="Demo User",
            host=server.host,
            port=server.port,
            security="none",
            timeout=10.0,
            check_recipients=False,  # demo.mailgui is not in the public DNS
        ),
        make_default=True,
    )


def tune_interpreter() -> None:
    """Keep the GUI thread responsive while worker threads run Python code.

    - Everything built at start-up lives for the whole run: freezing it keeps it out
      of the garbage collector's full passes, which otherwise stall the GUI thread
      (tens of ms with 10 000 rows in the outbox model).
    - The collector is off from the start of ``run()`` until here: the start makes
      tens of thousands of objects that all live on (Qt's wrappers, enums, modules),
      so its passes over them during the start found nothing to free.
    - A shorter GIL switch interval (default 5 ms) lets the GUI thread, which re-enters
      Python for every cell it paints, get the interpreter back sooner from the
      sender and outbox threads.
    """
    gc.freeze()
    gc.enable()  # run() turned it off for the start
    sys.setswitchinterval(0.001)


def run(demo: bool = False, mailto: str | None = None) -> int:
    """The app; ``mailto`` (a link the CLI already checked) opens a compose window. When
    the app already runs on this profile, the request goes to it and this returns 0.

    The window's frame is shown first and painted; everything else (the outbox view, the
    single-instance listener, the icon, the sender) is built right after that paint, so
    the window appears as soon as Qt itself is loaded."""
    # Qt-free modules are imported before this point where they can be: PySide6 reads
    # the source of every module imported after it (its __feature__ check).
    profile: Profile | None = None
    instance_name = None
    if not demo:
        # Before Qt: a start that finds the app running hands its request (a mailto:
        # link) over and ends without loading Qt, ~70 ms of a link opened (issue 19).
        profile = Profile.from_env()
        profile.ensure()
        log.setup(profile)
        lock = window_lock(profile)  # held until this process ends
        if hand_over(profile, {"mailto": mailto}, lock):
            return 0  # the running app opens the compose window (or shows itself)
        instance_name = server_name(profile)
    gc.disable()  # until tune_interpreter(), after the build
    if mailto:  # what the compose window needs of the core, before PySide6's hook
        import mailgui.core.drafts
        import mailgui.core.mailto
        import mailgui.core.message
        import mailgui.core.recipient_checks  # noqa: F401
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from mailgui.ui.main_window import LATER_AFTER_MS, FirstPaint, MainWindow, app_icon

    app = QApplication.instance() or QApplication(sys.argv[:1])
    assert isinstance(app, QApplication)
    app.setApplicationName("mailgui")
    app.setApplicationDisplayName("mailgui")
    app.setDesktopFileName("io.github.mailgui.mailgui")  # packaging/*.desktop
    app.setQuitOnLastWindowClosed(False)  # the tray may keep sending; MainWindow decides
    server: DemoServer | None = None
    if demo:
        from mailgui.demo_server import DemoServer

        server = DemoServer().start()
    try:
        if server is not None:
            profile = demo_profile()
            profile.ensure()
            log.setup(profile)
            prepare_demo(profile, server)
        assert profile is not None
        ctx = AppContext(profile, demo_port=server.port if server else None)
        window = MainWindow(
            ctx, demo_server=server, sender_after_first_paint=True, build_later=True
        )
        failed: list[BaseException] = []
        listening: list[object] = []  # the single-instance server lives as long as this

        def listen(name: str) -> None:
            from mailgui.ui.instance_server import InstanceServer

            instance = InstanceServer(name, window)
            instance.received.connect(window.handle_request)
            listening.append(instance)

        built: list[bool] = []  # build() ran (the compose-first start has two triggers)

        def build(compose_after: bool) -> None:
            if built:
                return
            built.append(True)
            try:
                window.build()
                if not window.built:  # closed before its first paint: quitting
                    return
                app.setWindowIcon(app_icon())  # compose windows, dialogs
                if instance_name is not None:
                    # QtNetwork (~10 ms) once the outbox is painted: a second start
                    # waits for the listener (it finds state/window.lock taken).
                    window.after_first_paint(lambda: listen(instance_name))
                if compose_after and mailto:
                    window.compose_mailto(mailto)
                tune_interpreter()  # after the build: it freezes what the build made
            except Exception as exc:  # raised below, out of exec(), as from any start
                failed.append(exc)
                app.exit(1)

        def start() -> None:
            """After the frame's first paint. Opened for a ``mailto:`` link (and with an
            account to write from), the compose window comes first, on the frame, and
            the rest of the main window is built once it has painted: the window the
            person asked for, at about the time a plain start shows its outbox."""
            if not (mailto and ctx.accounts.default_name() is not None):
                build(compose_after=True)
                return
            try:
                app.setWindowIcon(app_icon())
                window.make_outbox()
                compose = window.compose_mailto(mailto)
            except Exception as exc:
                failed.append(exc)
                app.exit(1)
                return
            if compose is None:  # the link was refused: said in the status bar
                build(compose_after=False)
                return
            # A moment after the compose window's first paint: what came with it (a key
            # typed as it appeared) goes first, then the build (~60 ms) runs while the
            # person reads the window, before a hand can reach the keys.
            FirstPaint(
                compose,
                lambda: QTimer.singleShot(LATER_AFTER_MS, window, lambda: build(False)),
            )
            QTimer.singleShot(2 * FirstPaint.FALLBACK_MS, window, lambda: build(False))

        FirstPaint(window, start)
        window.show()
        smoke_ms = os.environ.get("MAILGUI_SMOKE_QUIT_MS")  # scripts/build-app's smoke start
        if smoke_ms and smoke_ms.isdigit():
            QTimer.singleShot(int(smoke_ms), app.quit)
        code = app.exec()
        window.shutdown()
        if failed:
            raise failed[0]
        return int(code)
    finally:
        gc.enable()  # when the start ended before tune_interpreter()
        if server is not None:
            server.stop()
