"""``python -m mailgui.demo_tour`` (``scripts/demo`` without a display): the scripted tour
of the command line on the embedded demo server, run as a newcomer would."""

import dataclasses
import sys

from processes import Profile


def test_the_tour_sends_through_the_demo_server(profile: Profile) -> None:
    tour = dataclasses.replace(profile, command=[sys.executable, "-m", "mailgui.demo_tour"])
    r = tour.run(timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "$ mailgui send --account Demo" in r.stdout
    assert "The demo server received a message for friend@demo.mailgui:" in r.stdout
    assert "Subject: Hello from mailgui ✉" in r.stdout
