"""The system libraries Qt's plugins need, derived from what they link (ldd), not guessed.

    python scripts/qt_system_libs.py check     exit 1 when a plugin mailgui needs has a
                                               library the system does not have
    python scripts/qt_system_libs.py derive    print the Debian packages that provide
                                               every library they link (run it where all
                                               resolve; the result is scripts/qt-debian-packages)

PySide6-Essentials ships Qt itself, not the system libraries its plugins load: a missing
one shows only when the plugin is loaded ("could not load the Qt platform plugin xcb"),
so the list is made from the plugins mailgui uses on a desktop (X11 and Wayland windows,
OpenGL under both, icons and pictures, TLS, network state, input methods) and checked.
Run it with the interpreter mailgui is installed in. No Qt module is imported.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

# Folder under Qt/plugins -> file names, or "*" for every plugin in it.
NEEDED: dict[str, tuple[str, ...]] = {
    "platforms": ("libqxcb.so", "libqwayland.so", "libqoffscreen.so"),
    "xcbglintegrations": ("*",),
    "wayland-shell-integration": ("libxdg-shell.so", "libqt-shell.so"),
    "wayland-decoration-client": ("*",),
    "wayland-graphics-integration-client": ("libqt-plugin-wayland-egl.so",),
    "iconengines": ("*",),
    "imageformats": ("*",),
    "tls": ("*",),
    "networkinformation": ("*",),
    "platforminputcontexts": (
        "libcomposeplatforminputcontextplugin.so",
        "libibusplatforminputcontextplugin.so",
    ),
}
# Not needed: imageformats' PDF reader pulls in Qt PDF, which mailgui does not use.
SKIPPED = {"libqpdf.so"}
PACKAGES_FILE = Path(__file__).with_name("qt-debian-packages")


def qt_dir() -> Path:
    spec = importlib.util.find_spec("PySide6")
    if spec is None or not spec.submodule_search_locations:
        sys.exit("PySide6 is not installed in this interpreter.")
    return Path(next(iter(spec.submodule_search_locations))) / "Qt"


def plugins(qt: Path) -> list[Path]:
    found = []
    for folder, names in NEEDED.items():
        base = qt / "plugins" / folder
        files = sorted(base.glob("*.so")) if names == ("*",) else [base / n for n in names]
        found += [f for f in files if f.name not in SKIPPED]
    return found


def linked(path: Path) -> dict[str, str | None]:
    """soname -> resolved path (None: not found), transitively, as the loader sees it."""
    out = subprocess.run(["ldd", str(path)], capture_output=True, text=True, check=False)
    libs: dict[str, str | None] = {}
    for line in out.stdout.splitlines():
        name, arrow, target = line.strip().partition(" => ")
        if not arrow:
            continue
        where = target.split(" (")[0].strip()
        libs[name] = None if where == "not found" else where
    return libs


def check(qt: Path) -> int:
    missing: dict[str, set[str]] = {}
    files = plugins(qt)
    for plugin in files:
        if not plugin.exists():
            missing.setdefault("(the plugin file itself)", set()).add(str(plugin))
            continue
        for name, where in linked(plugin).items():
            if where is None:
                missing.setdefault(name, set()).add(plugin.name)
    if missing:
        for name, users in sorted(missing.items()):
            print(f"missing {name}, needed by {', '.join(sorted(users))}", file=sys.stderr)
        print(
            "Install the packages in scripts/qt-debian-packages (scripts/bootstrap does, as "
            "root), or run 'derive' on a machine where they are installed to update it.",
            file=sys.stderr,
        )
        return 1
    print(f"All {len(files)} Qt plugins mailgui needs find their libraries.")
    return 0


def derive(qt: Path) -> int:
    paths: set[str] = set()
    for plugin in plugins(qt):
        for name, where in linked(plugin).items():
            if where is None:
                sys.exit(f"{name} (for {plugin.name}) is missing here: install it first.")
            if not Path(where).resolve().is_relative_to(qt.resolve()):
                paths.add(str(Path(where).resolve()))
    packages: set[str] = set()
    for where in sorted(paths):
        # dpkg knows the merged-/usr name; ask by the file name within the library folder
        out = subprocess.run(
            ["dpkg", "-S", f"*/{Path(where).name}"], capture_output=True, text=True, check=False
        )
        owners = {line.split(":")[0] for line in out.stdout.splitlines() if ":" in line}
        if not owners:
            sys.exit(f"no Debian package owns {where}")
        packages |= owners
    for name in sorted(packages):
        print(name)
    return 0


def main() -> int:
    what = sys.argv[1] if len(sys.argv) > 1 else "check"
    if what == "check":
        return check(qt_dir())
    if what == "derive":
        return derive(qt_dir())
    print(__doc__, file=sys.stderr)
    return 64


if __name__ == "__main__":
    raise SystemExit(main())
