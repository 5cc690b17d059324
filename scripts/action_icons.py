"""Write mailgui's own action icons (mailgui/resources/actions/NAME.svg).

    python scripts/action_icons.py

Each file is named after the freedesktop icon it stands in for (mail-send, edit-delete,
format-text-bold...): the app asks the desktop's icon theme first and uses these where
the theme has none (bare X, a minimal desktop, a theme without mail icons). Drawn here,
for mailgui, under the project's licence. One style: 24 px grid, a slate ink, blue for
mail actions, green to add, red to delete; ``dark/`` has the same with a light ink, for
dark colour schemes (ui/icons.py picks by the palette).
"""

from __future__ import annotations

from pathlib import Path

INK = "#34495e"
DARK_INK = "#d7dee6"  # the same drawings on a dark window
BLUE = "#2a7de1"
GREEN = "#2e9e4f"
RED = "#c0392b"
PAPER = "#ffffff"
AMBER = "#f2b233"
HEAD = '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24" width="24" height="24">'
OUT = Path(__file__).resolve().parent.parent / "mailgui" / "resources" / "actions"


def line(d: str, color: str = INK, width: float = 1.7) -> str:
    return (
        f'<path d="{d}" fill="none" stroke="{color}" stroke-width="{width}" '
        'stroke-linecap="round" stroke-linejoin="round"/>'
    )


def shape(d: str, fill: str, color: str = INK, width: float = 1.5) -> str:
    return (
        f'<path d="{d}" fill="{fill}" stroke="{color}" stroke-width="{width}" '
        'stroke-linejoin="round"/>'
    )


def envelope(x: float, y: float) -> str:
    return (
        f'<rect x="{x}" y="{y}" width="17" height="12.5" rx="1.8" fill="{PAPER}" '
        f'stroke="{INK}" stroke-width="1.6"/>'
        + line(f"M{x + 0.7} {y + 1.1} L{x + 8.5} {y + 7.1} L{x + 16.3} {y + 1.1}")
    )


def text(
    x: float, y: float, glyph: str, size: float, style: str = "", font: str = "DejaVu Sans"
) -> str:
    return (
        f'<text x="{x}" y="{y}" text-anchor="middle" font-family="{font}, sans-serif" '
        f'font-size="{size}" fill="{INK}" {style}>{glyph}</text>'
    )


LINES = "M9.5 6.5 H20.5 M9.5 12 H20.5 M9.5 17.5 H20.5"
ICONS = {
    "mail-message-new": envelope(2.5, 5.5)
    + f'<circle cx="18.5" cy="17.5" r="5" fill="{GREEN}"/>'
    + line("M18.5 14.8 V20.2 M15.8 17.5 H21.2", "#ffffff", 1.9),
    "mail-send": shape("M2.8 11.2 L21 3.2 L15.2 20.8 L11.4 13 Z", BLUE, "#1b5fb0", 1.3)
    + line("M21 3.2 L11.4 13", "#ffffff", 1.3),
    "view-refresh": line("M19.2 12 A7.2 7.2 0 1 1 16.6 6.4", BLUE, 2.3)
    + line("M13.6 3.4 L18.6 5.6 L15.6 10", BLUE, 2.3),
    "mail-send-receive": envelope(1.5, 3.5)
    + f'<circle cx="17.5" cy="17.5" r="5.6" fill="{BLUE}"/>'
    + line("M20.4 17.5 A2.9 2.9 0 1 1 19.3 15.2", "#ffffff", 1.6)
    + line("M17.6 13.9 L19.9 14.9 L18.7 17.1", "#ffffff", 1.6),
    "edit-delete": shape(
        "M5.5 7.5 H18.5 L17.3 20 A1.6 1.6 0 0 1 15.7 21.4 H8.3 A1.6 1.6 0 0 1 6.7 20 Z",
        "#eef1f4",
        width=1.6,
    )
    + line("M3.8 6.2 H20.2 M9.3 6 V3.8 H14.7 V6", RED, 1.8)
    + line("M10 10.8 V17.8 M14 10.8 V17.8"),
    "system-users": f'<circle cx="15.8" cy="8.2" r="3.2" fill="#9fb6d3" stroke="{INK}" '
    'stroke-width="1.4"/>'
    + shape("M10.4 19.5 A5.4 5.4 0 0 1 21.2 19.5 Z", "#9fb6d3", width=1.4)
    + f'<circle cx="8.6" cy="9" r="3.6" fill="{BLUE}" stroke="{INK}" stroke-width="1.4"/>'
    + shape("M2.4 21 A6.2 6.2 0 0 1 14.8 21 Z", BLUE, width=1.4),
    "document-edit": shape(
        "M5 2.8 H13.5 L18 7.3 V20 A1.2 1.2 0 0 1 16.8 21.2 H5 A1.2 1.2 0 0 1 3.8 20 V4 "
        "A1.2 1.2 0 0 1 5 2.8 Z",
        PAPER,
    )
    + line("M7 9 H12 M7 12.5 H11 M7 16 H9.5", width=1.3)
    + shape("M12 19.2 L12.6 16.3 L19.7 9.2 L22.2 11.7 L15.1 18.8 Z", AMBER, width=1.3),
    "mail-attachment": line(
        "M19.5 11.2 L12.3 18.4 A4.6 4.6 0 0 1 5.8 11.9 L13.2 4.5 A3.1 3.1 0 0 1 17.6 8.9 "
        "L10.4 16.1 A1.55 1.55 0 0 1 8.2 13.9 L14.7 7.4",
        width=1.8,
    ),
    "appointment-new": f'<circle cx="12" cy="12" r="8.6" fill="{PAPER}" stroke="{INK}" '
    'stroke-width="1.6"/>' + line("M12 6.8 V12 L15.4 14", BLUE, 1.9),
    "format-text-bold": text(12, 18.5, "B", 17, 'font-weight="bold"'),
    "format-text-italic": text(
        12, 18.5, "I", 18, 'font-style="italic" font-weight="bold"', "DejaVu Serif"
    ),
    "format-text-underline": text(12, 16.5, "U", 15) + line("M6.5 20.5 H17.5", width=1.8),
    "format-list-unordered": "".join(
        f'<circle cx="5" cy="{y}" r="1.7" fill="{INK}"/>' for y in (6.5, 12, 17.5)
    )
    + line(LINES, width=1.9),
    "format-list-ordered": "".join(
        text(4.6, y + 2.4, str(n), 6.8, 'font-weight="bold"')
        for n, y in ((1, 6.5), (2, 12), (3, 17.5))
    )
    + line(LINES, width=1.9),
    "format-text-blockquote": line("M4 5 V19", BLUE, 2.6)
    + line("M8.5 7 H20 M8.5 12 H20 M8.5 17 H16", width=1.9),
    "insert-link": line(
        "M10.2 13.8 A3.8 3.8 0 0 0 15.6 13.8 L18.9 10.5 A3.8 3.8 0 0 0 13.5 5.1 L12 6.6",
        width=1.9,
    )
    + line(
        "M13.8 10.2 A3.8 3.8 0 0 0 8.4 10.2 L5.1 13.5 A3.8 3.8 0 0 0 10.5 18.9 L12 17.4",
        BLUE,
        1.9,
    ),
    "document-sign": shape(
        "M5 2.8 H13.5 L18 7.3 V20 A1.2 1.2 0 0 1 16.8 21.2 H5 A1.2 1.2 0 0 1 3.8 20 V4 "
        "A1.2 1.2 0 0 1 5 2.8 Z",
        PAPER,
    )
    + line("M7 8.5 H12.5 M7 12 H11", width=1.3)
    + line("M6.4 17.2 C7.6 14.6 8.8 14.6 9 16.4 C9.2 18 10.4 17.6 11.2 16.2", BLUE, 1.4)
    + f'<circle cx="17.6" cy="16.6" r="4.6" fill="{BLUE}" stroke="#1b5fb0" stroke-width="1"/>'
    + line("M15.5 16.7 L17.1 18.3 L19.9 15.1", "#ffffff", 1.7),
    "document-encrypt": line("M7.8 10.8 V7.6 A4.2 4.2 0 0 1 16.2 7.6 V10.8", INK, 2.1)
    + f'<rect x="4.6" y="10.6" width="14.8" height="10.6" rx="2" fill="{AMBER}" '
    f'stroke="{INK}" stroke-width="1.6"/>'
    + f'<circle cx="12" cy="15" r="1.6" fill="{INK}"/>'
    + line("M12 15.6 V18.2", INK, 1.8),
    "insert-image": f'<rect x="2.8" y="4.5" width="18.4" height="15" rx="1.8" fill="{PAPER}" '
    f'stroke="{INK}" stroke-width="1.6"/><circle cx="8.2" cy="9.4" r="1.9" fill="{AMBER}"/>'
    + f'<path d="M3.6 18 L9.6 12.6 L13.2 15.6 L16 13 L20.4 17.2 V18.7 H3.6 Z" fill="{GREEN}"/>',
}


def main() -> None:
    (OUT / "dark").mkdir(parents=True, exist_ok=True)
    for name, body in ICONS.items():
        svg = HEAD + body + "</svg>\n"
        (OUT / f"{name}.svg").write_text(svg)
        (OUT / "dark" / f"{name}.svg").write_text(svg.replace(INK, DARK_INK))
    print(f"{len(ICONS)} icons in {OUT} and {OUT / 'dark'}")


if __name__ == "__main__":
    main()
