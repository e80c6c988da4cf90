"""Streamlit helpers shared by the pages: cached loaders, session keys, widgets. Pages -> ui -> dlcore."""
