"""Entry point of `streamlit run` (see `make app`): the page itself is simulator.app.page."""

from simulator.app.page import main

main()
