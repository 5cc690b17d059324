"""The Qt face of mailgui. Imports core; core never imports this package."""
