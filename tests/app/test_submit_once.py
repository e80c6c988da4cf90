"""A form's submit button acts once per press, also when Streamlit replays the press into the next run (a rerun
that cut the pressing run short: then the button reads True again, but its callback does not run again)."""
from __future__ import annotations

from streamlit.testing.v1 import AppTest


def _script() -> None:
    import streamlit as st

    from ui.widgets import submit_once

    st.session_state.setdefault("acted", 0)
    with st.form("f"):
        st.number_input("Epochs", 1, 10, 2)
        if submit_once("Go", "f"):
            st.session_state["acted"] += 1


def test_each_press_acts_once_and_a_replayed_press_not_again() -> None:
    at = AppTest.from_function(_script)
    at.run()
    assert at.session_state["acted"] == 0
    at.button[0].click().run()
    at.run()  # a rerun without a press (a widget elsewhere, a refresh)
    assert at.session_state["acted"] == 1
    at.button[0].click().run()
    assert at.session_state["acted"] == 2  # a second press is a second action
    # the replay: the press was counted and acted on in a run that a rerun then cut short; the next run sees the
    # button pressed once more without its callback: the guard reads it as the same press
    at.session_state["f_handled"] = at.session_state["f_presses"] + 1
    at.button[0].click().run()
    assert at.session_state["acted"] == 2
