"""The first slow load of a browser tab draws an empty chart meanwhile (the browser starts Plotly's chart code while
the server works) and removes it after; later loads in the same tab draw none."""
from __future__ import annotations

from streamlit.testing.v1 import AppTest


def _script() -> None:
    import streamlit as st

    from dlcore import plots
    from ui.widgets import loading

    drawn = st.session_state.setdefault("drawn", [])
    real = plots.placeholder
    plots.placeholder = lambda: drawn.append(1) or real()  # count the empty charts of this run
    try:
        with loading("Loading the model..."):
            st.session_state["inside"] = st.session_state.get("inside", 0) + 1
    finally:
        plots.placeholder = real
    st.write("done")


def test_the_first_load_of_a_tab_starts_the_charts_and_leaves_nothing_behind() -> None:
    at = AppTest.from_function(_script)
    at.run()
    assert not at.exception and at.session_state["drawn"] == [1] and at.session_state["inside"] == 1
    assert at.session_state["charts_started"] is True
    assert len(at.get("plotly_chart")) == 0 and at.markdown[0].value == "done"  # the empty chart is gone
    at.run()
    assert at.session_state["drawn"] == [1] and at.session_state["inside"] == 2  # the tab has the chart code now
