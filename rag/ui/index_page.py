"""Index page (placeholder until uploads land)."""

import streamlit as st


def render() -> None:
    st.title("Index")
    st.info("Coming soon: run `rag index` from the command line.")
