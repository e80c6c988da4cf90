"""Streamlit helpers of the fairness views: sensitive columns on the Data page, the audit of a model (groups,
disparities, proxies, explanation disparity, shortcuts), and post-processing. Computation is
``dlcore.fairness``'s; results are kept per session so reruns do not recompute them. Pages -> ui -> dlcore."""
from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd
import streamlit as st

from dlcore import plots
from dlcore.errors import DlcoreError
from dlcore.fairness.audit import FairnessReport
from dlcore.fairness.groups import MAX_GROUPS, data_groups, suggest
from dlcore.fairness.service import Audit, ShortcutCheck
from dlcore.store import ModelRecord
from ui.widgets import NOTHING, with_progress

BANDS = 4  # numeric sensitive columns with many values are shown in this many bands on the Data page


def sensitive_choice(columns: Sequence[str], target: str | None, key: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Which columns are sensitive (suggested by name) and which of them the model may also see."""
    others = [c for c in columns if c != target]
    with st.expander("Sensitive columns: kept for the fairness audit", expanded=bool(suggest(others))):
        st.caption("Sensitive columns (sex, age, ...) are left out of the model's inputs by default and kept with "
                   "the data, so the Fairness page can compare the model's decisions across their groups.")
        chosen = st.multiselect("Sensitive columns", others, default=suggest(others), key=f"sensitive_{key}_{target}",
                                help="suggested when a name looks like sex, gender, race, ethnicity, age, religion, "
                                     "nationality, disability or marital status")
        inputs = st.multiselect("Also given to the model", chosen, default=[], key=f"sensitive_inputs_{key}",
                                help="by default the model never sees them; proxies can still carry them")
    return tuple(chosen), tuple(c for c in inputs if c in chosen)


def data_group_views(frame: pd.DataFrame, keep: np.ndarray, y: np.ndarray, sensitive: Sequence[str],
                     class_names: Sequence[str], key: str) -> None:
    """Before any model: each sensitive column's groups, their share of the rows and their label rates."""
    for column in sensitive:
        values = frame.loc[keep, column].to_numpy(dtype=object)
        try:
            groups = data_groups(values, y, column, class_names)
        except DlcoreError as exc:
            if "too many groups" not in str(exc):
                st.warning(str(exc))
                continue
            groups = data_groups(values, y, column, class_names, bins=BANDS)
            st.caption(f"{column!r} has more than {MAX_GROUPS} values: shown in {BANDS} bands of about equal size.")
        for line in groups.warnings:
            st.warning(line)
        st.plotly_chart(plots.group_shares(groups), key=f"groups_{key}_{column}")


def kept(key: tuple, compute: Callable[[Callable[[float, str], None]], Any]) -> Any | None:
    """``compute(progress)`` once per ``key`` in this session, with a progress bar; None (error shown) when
    it cannot be done."""
    store = st.session_state.setdefault("fairness_results", {})
    if key in store:
        return store[key]
    result = with_progress(compute)
    if result is NOTHING:
        return None
    if len(store) > 16:
        store.pop(next(iter(store)))
    store[key] = result
    return result


def _pct(v: float | None) -> str:
    return "n/a" if v is None else f"{v:.1%}"


def group_table(report: FairnessReport) -> pd.DataFrame:
    """One row per group, small groups marked."""
    rows = []
    for g in report.groups:
        row = {"group": g.group + (" (few rows)" if g.small else ""), "n": g.n}
        if report.task == "classification":
            row.update({"accuracy": _pct(g.accuracy), "selection rate": _pct(g.selection_rate),
                        "precision": _pct(g.precision), "true positive rate": _pct(g.tpr),
                        "false positive rate": _pct(g.fpr), "false negative rate": _pct(g.fnr)})
        else:
            row.update({"mean abs. error": g.mae, "mean prediction": g.mean_prediction, "mean target": g.mean_target})
        rows.append(row)
    return pd.DataFrame(rows)


def disparity_metrics(report: FairnessReport) -> None:
    """The disparities as metrics, the four-fifths rule as a badge."""
    if report.task != "classification":
        means = [g.mean_prediction for g in report.groups if g.mean_prediction is not None]
        st.metric("Gap in mean prediction", f"{max(means) - min(means):.4g}" if means else "n/a")
        return
    c1, c2, c3 = st.columns(3)
    c1.metric("Demographic parity difference", f"{report.demographic_parity_difference:.3f}",
              help="largest gap in selection rate between groups (0: equal)")
    c2.metric("Demographic parity ratio", f"{report.demographic_parity_ratio:.3f}",
              help="lowest selection rate over the highest (1: equal); below 0.8 fails the four-fifths rule")
    c3.metric("Equalized odds difference", f"{report.equalized_odds_difference:.3f}",
              help="largest gap in true or false positive rate between groups")
    if report.four_fifths_pass is False:
        st.markdown(":red-badge[:material/gavel: fails the four-fifths rule]")
    elif report.four_fifths_pass:
        st.markdown(":green-badge[:material/check: passes the four-fifths rule]")


def report_view(report: FairnessReport, key: str) -> None:
    """One report: the disparities, the group table and the figures."""
    disparity_metrics(report)
    st.dataframe(group_table(report), hide_index=True, key=f"{key}_table")
    st.plotly_chart(plots.group_metrics(report), key=f"{key}_metrics")
    if report.task == "classification":
        c1, c2 = st.columns(2)
        c1.plotly_chart(plots.selection_rates(report), key=f"{key}_rates")
        c2.plotly_chart(plots.confusion_matrices(report), key=f"{key}_confusion")


def audit_view(result: Audit, key: str) -> None:
    """The whole audit: warnings first, then groups, each column alone, proxies, explanation disparity."""
    r = result.report
    st.caption(f"{result.rows:,} rows ({result.source}); class audited: {r.positive!r} against the rest."
               if r.positive else f"{result.rows:,} rows ({result.source}).")
    for line in result.warnings:
        st.warning(line)
    if not result.warnings:
        st.success("No disparity above the flags, no proxy and no shortcut found.")
    tabs = st.tabs(["Groups", *(f"By {c}" for c in r.by_column), "Proxies", "Explanation by group"])
    with tabs[0]:
        report_view(r, f"{key}_all")
    for tab, (column, sub) in zip(tabs[1:], r.by_column.items()):
        with tab:
            report_view(sub, f"{key}_{column}")
    with tabs[-2]:
        for column, proxies in result.proxies.items():
            st.plotly_chart(plots.proxy_bars(proxies, column), key=f"{key}_proxies_{column}")
    with tabs[-1]:
        if result.disparity is None:
            st.info("Turn on 'Explain with SHAP' to compare how much each feature matters in each group.")
        else:
            st.caption(f"Mean |SHAP| of each feature over {result.disparity.rows} validation rows, by group.")
            st.plotly_chart(plots.disparity_bars(result.disparity), key=f"{key}_disparity")


def shortcut_view(check: ShortcutCheck, key: str) -> None:
    """Shortcuts and leaks: a warning each, and every column's one-feature score against the model's."""
    for s in check.shortcuts:
        st.warning(s.message, icon=":material/report:")
    if not check.shortcuts:
        st.success("No shortcut or leak found: no single column predicts the target nearly as well as the model, "
                   "and the most attributed columns are not IDs, row order or date parts.")
    if check.one_feature:
        rows = [{"column": c, "one-feature score": round(v, 3),
                 "model's score": None if check.model_score is None else round(check.model_score, 3),
                 "mean |SHAP|": None if check.importance is None else round(check.importance.get(c, 0.0), 4)}
                for c, v in sorted(check.one_feature.items(), key=lambda kv: -kv[1])]
        st.dataframe(pd.DataFrame(rows), hide_index=True, key=f"{key}_one_feature")


def mitigation_record(record: ModelRecord) -> None:
    """What was done to a mitigated model: its thresholds' before and after, or its reweighing."""
    meta = record.meta
    if meta.postprocessing is not None:
        p = meta.postprocessing
        st.info(f"This model is {meta.origin} (from {p.base_model}): Fairlearn's ThresholdOptimizer, fitted on the "
                "training rows, picks a threshold per group.")
        st.plotly_chart(plots.tradeoff([("before", p.before), ("after", p.after)]), key=f"tradeoff_{record.model_id}")
    elif meta.config is not None and meta.config.reweigh:
        st.info(f"This model was trained with reweighing by {', '.join(meta.config.sensitive) or 'its data'}'s "
                "sensitive columns (Kamiran and Calders 2012): group and label made independent in training.")

