"""CaseQA in the browser: `streamlit run app.py`. Thin on purpose: pages live in rag/ui/.

The index folder and model come from `rag.config.load_settings()`, so `RAG_INDEX_DIR`,
`RAG_MODEL` and the other `RAG_*` variables apply here as they do to the CLI.
"""

import streamlit as st

from rag.ui import ask_page, cases_page, evaluation_page, index_page
from rag.ui.common import FAVICON

st.set_page_config(page_title="CaseQA", page_icon=FAVICON, layout="centered")
st.navigation(
    [
        st.Page(ask_page.render, title="Ask", icon=":material/search:", default=True),
        st.Page(cases_page.render, title="Cases", icon=":material/patient_list:", url_path="cases"),
        st.Page(
            evaluation_page.render,
            title="Evaluation",
            icon=":material/analytics:",
            url_path="evaluation",
        ),
        st.Page(index_page.render, title="Index", icon=":material/database:", url_path="index"),
    ]
).run()
