"""Evaluation page (placeholder until the evaluator lands)."""

import streamlit as st


def render() -> None:
    st.title("Evaluation")
    st.info("Coming soon: run `rag eval` from the command line.")
