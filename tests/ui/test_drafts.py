"""Drafts seen from the main window: crash recovery at start and the File → Drafts list."""
# pytest-qt's QtBot methods are not annotated:
# mypy: disable-error-code="no-untyped-call"

from __future__ import annotations

from pytestqt.qtbot import QtBot

from mailgui.core.accounts import Account, AccountStore
from mailgui.core.drafts import DraftStore
from mailgui.ui.compose import ComposeWindow
from mailgui.ui.context import AppContext
from mailgui.ui.main_window import MainWindow


def make_main(qtbot: QtBot, ctx: AppContext) -> MainWindow:
    w = MainWindow(ctx, watch_network=False)
    qtbot.addWidget(w)
    w.show()
    return w


def test_a_draft_left_by_a_crash_is_offered_back_on_next_start(
    qtbot: QtBot, ctx: AppContext
) -> None:
    AccountStore(ctx.profile.accounts_file).save(
        Account("work", "me@example.org", host="127.0.0.1", port=2525, security="none")
    )
    store = DraftStore(ctx.profile.data_dir / "drafts")

    first = make_main(qtbot, ctx)
    assert not first.recovered_drafts.isVisible()
    compose = ComposeWindow(ctx, first.outbox)
    compose.to_edit.setText("ann@example.org")
    compose.subject_edit.setText("Half written")
    compose.body_edit.setPlainText("Where was I")
    compose.autosave()
    # The crash: the process dies with the window open; nothing more is written.
    compose.autosave_timer.stop()
    compose._done = True
    compose.close()
    assert first.shutdown()
    assert [d.open for d in store.all()] == [True]

    second = make_main(qtbot, ctx)
    try:
        notice = second.recovered_drafts
        assert notice.isVisible()
        assert notice.label.text() == "1 unsent draft was recovered"
        assert [a.text().split("\t")[0] for a in _menu_actions(second)] == ["Half written"]
        notice.open_button.click()
        assert not notice.isVisible()
        (back,) = second.editors
        assert back.to_edit.text() == "ann@example.org"
        assert back.subject_edit.text() == "Half written"
        assert back.body_edit.toPlainText() == "Where was I"
        assert back.draft_id == store.all()[0].id  # the same draft, not a copy
        back._ask_on_close = lambda: "save"
        back.close()
        assert [d.open for d in store.all()] == [False]
    finally:
        assert second.shutdown()

    third = make_main(qtbot, ctx)  # closed on purpose: listed, not offered again
    try:
        assert not third.recovered_drafts.isVisible()
        (action,) = _menu_actions(third)
        action.trigger()
        assert len(third.editors) == 1
        assert third.editors[0].subject_edit.text() == "Half written"
        third.editors[0]._done = True
        third.editors[0].close()
    finally:
        assert third.shutdown()


def test_dismissing_recovered_drafts_keeps_them_in_the_list(qtbot: QtBot, ctx: AppContext) -> None:
    from mailgui.core.drafts import SavedDraft

    store = DraftStore(ctx.profile.data_dir / "drafts")
    store.save(SavedDraft(subject="One", open=True))
    store.save(SavedDraft(subject="Two", open=True))
    w = make_main(qtbot, ctx)
    try:
        assert w.recovered_drafts.label.text() == "2 unsent drafts were recovered"
        w.recovered_drafts.dismiss_button.click()
        assert not w.recovered_drafts.isVisible()
        assert all(not d.open for d in store.all())
        assert sorted(a.text().split("\t")[0] for a in _menu_actions(w)) == ["One", "Two"]
    finally:
        assert w.shutdown()


def _menu_actions(w: MainWindow) -> list:  # type: ignore[type-arg]
    w.drafts_menu.refresh()
    return [a for a in w.drafts_menu.actions() if a.isEnabled()]


def test_a_draft_of_a_take_out_that_never_finished_is_not_offered(
    qtbot: QtBot, ctx: AppContext
) -> None:
    """mailgui stopped between writing the draft of a message taken out to be edited and
    removing the message: the message is still in the outbox, so offering the draft too
    could send it twice. It is removed; a real leftover draft is still offered."""
    from mailgui.core.addresses import Mailbox
    from mailgui.core.drafts import SavedDraft
    from mailgui.core.message import Draft, build
    from mailgui.core.outbox import Outbox

    with Outbox(ctx.profile.outbox_file) as box:
        out = build(
            Draft(sender=Mailbox("", "me@example.org"), to=[Mailbox("", "bob@example.org")],
                  subject="Still queued", text="b\n")
        )  # fmt: skip
        msg_id = box.add("work", out)
        message_id = box.get(msg_id).message_id
    store = DraftStore(ctx.profile.data_dir / "drafts")
    stale = SavedDraft(
        subject="Still queued", open=True, taken_from_id=msg_id, taken_from=message_id
    )
    store.save(stale)
    store.save(SavedDraft(subject="Lost in a crash", open=True))
    w = make_main(qtbot, ctx)
    try:
        assert w.recovered_drafts.label.text() == "1 unsent draft was recovered"
        assert [d.subject for d in store.all()] == ["Lost in a crash"]
    finally:
        assert w.shutdown()
    with Outbox(ctx.profile.outbox_file) as box:
        assert box.get(msg_id).subject == "Still queued"  # the message itself stays
