"""Streamlit helpers of the trust panel: the verdict first, then the faithfulness curves against the random
band, the randomisation curve, the agreement matrix and the spread across seeds, with downloads. The figures
are ``dlcore.explain.service.trust_record``'s and ``dlcore.plots.trust``'s. Pages -> ui -> dlcore."""
from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import numpy as np
import streamlit as st

from dlcore import plots
from dlcore.explain.report import TrustReport
from dlcore.explain.service import Request, Result, trust_cost, trust_record
from dlcore.explain.verdict import NOT_RELIABLE, RELIABLE
from dlcore.store import ModelRecord
from ui.explain import explanation, input_key

BASELINES = {"blurred image": "blur", "black": "black"}


COLOURS = {RELIABLE: ("green", ":material/verified:"), NOT_RELIABLE: ("red", ":material/dangerous:")}


def verdict_box(report: TrustReport, title: str = "") -> None:
    """The verdict as a coloured badge in a bordered box, its reasons as a list under it (not ``st.error``:
    a verdict is a finding, not a failure of the page)."""
    level = report.verdict.level
    colour, icon = COLOURS.get(level, ("orange", ":material/warning:"))
    with st.container(border=True):
        st.markdown(f"{title}:{colour}-badge[{icon} **{level.capitalize()}**]")
        st.markdown("\n".join(f"- {reason}" for reason in report.verdict.reasons))


def settings(ds: Any, key: str) -> tuple[bool, str | None]:
    """The panel's options: whether to run the randomisation check, and an image's removal baseline."""
    c1, c2 = st.columns(2)
    randomise = c1.checkbox("Randomisation check", value=True, key=f"{key}_randomise",
                            help="Explain again with copies of the model whose layers are re-initialised, output "
                                 "side first (one explanation per layer with weights); the stored model is untouched")
    baseline = None
    if ds.modality == "image":
        label = c2.radio("Removed pixels become", list(BASELINES), horizontal=True, key=f"{key}_baseline",
                         help="What the deletion and insertion curves fill removed pixels with")
        baseline = BASELINES[label]
    return randomise, baseline


def run_report(record: ModelRecord, model: Any, ds: Any, x: np.ndarray, got: Result, request: Request, cls: int,
               others: Mapping[str, Any], randomise: bool, baseline: str | None, index: int | None) -> Any:
    """The trust report of ``got`` for class ``cls``, computed once and kept; the cost is shown first and a
    large run waits for a click."""
    compare = not others
    plan = trust_cost(record, model, ds, x, request, compare=compare, randomise=randomise)
    key = ("trust", record.model_id, record.meta.created, input_key(x), index, request, cls, randomise, baseline,
           tuple(sorted(others)))
    return explanation(key, plan, lambda progress: trust_record(
        record, model, ds, x, got, request, cls=cls, compare=compare, randomise=randomise, others=others,
        baseline=baseline, progress=progress), f"run_trust_{request.method}")


def _downloads(report: TrustReport, figures: Mapping[str, Any], name: str, key: str) -> None:
    import pandas as pd

    with st.popover("Download", icon=":material/download:"):
        st.download_button("Trust figures (JSON)", data=lambda: json.dumps(report.to_dict()),
                           file_name=f"{name}.json", mime="application/json", key=f"{key}_json", on_click="ignore")
        st.download_button("Findings (CSV)", data=lambda: pd.DataFrame(report.rows()).to_csv(index=False),
                           file_name=f"{name}.csv", mime="text/csv", key=f"{key}_csv", on_click="ignore")
        for label, fig in figures.items():
            st.download_button(f"{label} (HTML)", data=lambda fig=fig: plots.figure_html(fig),
                               file_name=f"{name}_{label.lower()}.html", mime="text/html",
                               key=f"{key}_{label.lower()}_html", on_click="ignore")


def figures(report: TrustReport) -> dict[str, Any]:
    """The panel's figures that apply, by name."""
    out: dict[str, Any] = {}
    if report.deletion is not None or report.insertion is not None:
        out["Faithfulness"] = plots.faithfulness_curves(report.deletion, report.insertion, stacked=True)
    if report.randomisation is not None:
        out["Randomisation"] = plots.randomisation_curve(report.randomisation)
    if report.agreement is not None:
        out["Agreement"] = plots.agreement_heatmap(report.agreement)
    if report.spread is not None and report.spread.ndim == 3:
        out["Spread"] = plots.spread_map(report.spread)
    return out


def panel(report: TrustReport, key: str) -> None:
    """The verdict, then one tab per figure, the checks that did not apply, and the downloads."""
    verdict_box(report)
    found = figures(report)
    if found:
        for tab, (label, fig) in zip(st.tabs(list(found)), found.items()):
            with tab:
                st.plotly_chart(fig, key=f"{key}_{label.lower()}")
                if label == "Randomisation" and report.randomisation is not None:
                    st.caption("The signed values decide: maps weighted by the input keep its outline in their "
                               "absolute values even for a random model; a map of the input itself keeps 1.0 on both.")
    if report.ground_truth is not None:
        g = report.ground_truth
        where = "the true causes" if g.kind == "causes" else "the object"
        st.caption(f"Ground truth: {g.share:.0%} of |attribution| on {where} (their share: {g.expected_share:.0%}); "
                   f"precision at {g.k}: {g.precision_at_k:.0%}.")
    if report.not_applicable:
        st.caption("Not checked: " + "; ".join(f"{check}: {why}" for check, why in report.not_applicable))
    st.caption(f"Trust checks took {report.seconds:.1f} s.")
    _downloads(report, found, f"trust_{report.method}_class{report.cls}", key)
