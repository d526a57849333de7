"""The interactive what-if page (`make app`): Streamlit layout in ``page``, plain testable logic in
``settings`` (controls and validation) and ``compute`` (runs, figures, downloads)."""
