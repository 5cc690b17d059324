#!/bin/sh
# Install mailgui's desktop entry, AppStream metainfo, icons and the agent's systemd user
# unit for the current user, and make mailgui the handler of mailto: links.
#   packaging/install-desktop.sh            (after `pip install --user .` or pipx)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
res="$here/../mailgui/resources"
id=io.github.mailgui.mailgui
data=${XDG_DATA_HOME:-$HOME/.local/share}
config=${XDG_CONFIG_HOME:-$HOME/.config}

install -Dm644 "$here/$id.desktop" "$data/applications/$id.desktop"
install -Dm644 "$here/$id.metainfo.xml" "$data/metainfo/$id.metainfo.xml"
install -Dm644 "$res/mailgui.svg" "$data/icons/hicolor/scalable/apps/mailgui.svg"
for size in 16 24 32 48 64 128 256 512; do
    install -Dm644 "$res/icons/mailgui-$size.png" "$data/icons/hicolor/${size}x${size}/apps/mailgui.png"
done
install -Dm644 "$here/mailgui-agent.service" "$config/systemd/user/mailgui-agent.service"

command -v update-desktop-database >/dev/null && update-desktop-database "$data/applications" || true
command -v gtk-update-icon-cache >/dev/null && gtk-update-icon-cache -q "$data/icons/hicolor" || true
command -v xdg-mime >/dev/null && xdg-mime default "$id.desktop" x-scheme-handler/mailto || true
echo "Installed. Start the agent at login with: systemctl --user enable --now mailgui-agent"
